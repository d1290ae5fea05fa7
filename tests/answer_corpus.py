"""Answer/label pairs in the shapes real model outputs and math datasets take.

Labels are written the way MATH and DeepScaleR write them; answers the way Qwen2.5-Math
writes its boxed answers (fractions, percents, degrees, units, thousands separators,
intervals, sets, matrices, text answers, complex numbers, equations...). Each family is a
label with answers that equal it and answers that do not; ``UNSETTLED`` holds pairs whose
truth depends on a convention (the test of verdicts across environments uses them all).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One label, with answers that equal it and answers that do not."""

    label: str
    right: tuple[str, ...]
    wrong: tuple[str, ...]


FAMILIES = (
    # integers and thousands separators
    Family(
        "204", ("204", "204.0", "\\text{204}", "204.", "204 \\text{ ways}", "0204"), ("240", "-204")
    ),
    Family(
        "14916",
        ("14{,}916", "14,916", "14\\,916", "14\\!916", "14916.", "\\textbf{14{,}916}"),
        ("14{,}961", "14\\,91", "149"),
    ),
    Family(
        "1000",
        ("1\\,000", "1{,}000", "1\\!000", "1~000", "10^3", "1000.0", "\\text{1000}"),
        ("100", "0", "1\\,001"),
    ),
    Family(
        "1000000",
        ("1{,}000{,}000", "1\\,000\\,000", "10^6", "1,000,000", "10^{6}"),
        ("100000", "1\\,000"),
    ),
    Family("5866608", ("5{,}866{,}608", "5\\,866\\,608", "5866608"), ("5866680", "5{,}866")),
    Family("-5", ("-5", "- 5", "(-5)", "-5.0", "-\\frac{10}{2}"), ("5", "-6")),
    Family("0", ("0", "0.0", "-0"), ("1", "\\emptyset")),
    # every font command around a number, math inside text, a sentence's punctuation after it
    Family(
        "7",
        (
            *("\\boldsymbol{7}", "\\bm{7}", "\\pmb{7}", "\\texttt{7}", "\\mathtt{7}"),
            *("\\mathnormal{7}", "\\textsl{7}", "\\emph{7}", "\\hbox{7}", "\\mbox{$7$}"),
            *("\\text{$7$ cm}", "\\textbf{$7$}", "7,", "7;", "7 ,", "x = 7,"),
        ),
        ("\\boldsymbol{8}", "7,,", "\\text{$7$ or more}", "\\text{about $7$}", "17;"),
    ),
    # decimals
    Family(
        "12.8",
        (
            "12.8",
            "\\frac{64}{5}",
            "12.80",
            "12.8 \\text{ mph}",
            "\\text{12.8}",
            "\\text{12.8 mph}",
            "12.8\\text{ miles per hour}",
            "12.8.",
            "\\textbf{12.8}",
            "\\mathrm{12.8}",
            "v = 12.8",
            "12.8 mph",
            "\\mathtt{12.8}",
            "\\text{$12.8$ mph}",
        ),
        ("12.7", "128", "\\frac{63}{5}", "8\\sqrt[3]{4}", "12"),
    ),
    Family("0.4", (".4", "0.40", "\\frac{2}{5}", "\\frac25"), ("4", "0.04")),
    Family("16386.20", ("\\$16,\\!386.20", "16{,}386.20", "16386.2", "\\$16386.20"), ("16386.02",)),
    Family("\\$18.90", ("18.90", "18.9", "\\$18.90", "\\$ 18.90"), ("18.09", "1890")),
    # fractions
    Family(
        "\\frac{1}{2}",
        (
            "0.5",
            "\\dfrac{1}{2}",
            "1/2",
            "\\frac12",
            "\\tfrac{1}{2}",
            "\\frac{2}{4}",
            "\\left(\\frac{1}{2}\\right)",
            "\\mbox{$\\frac{1}{2}$}",
            "\\text{$\\frac{1}{2}$}",
            "\\boldsymbol{0.5}",
            "\\frac{1}{2};",
        ),
        ("\\frac{1}{3}", "2", "0.05"),
    ),
    Family(
        "\\frac{3}{56}",
        ("\\frac{3}{56}", "\\dfrac{3}{56}", "3/56", "\\frac{6}{112}"),
        ("\\frac{56}{3}",),
    ),
    Family(
        "-\\frac{10}{9}",
        ("-\\frac{10}{9}", "\\frac{-10}{9}", "-10/9", "-\\dfrac{10}{9}"),
        ("\\frac{10}{9}",),
    ),
    Family(
        "\\frac{14}{3}",
        ("\\frac{14}{3}", "4\\frac{2}{3}+0", "\\frac{28}{6}"),
        ("\\frac{3}{14}", "4.6"),
    ),
    # percents, from either side
    Family(
        "80\\%",
        ("80", "80\\%", "0.8", "\\frac{4}{5}", "80 \\%", "80 percent", "80%", "80\\%."),
        ("8", "0.08", "20\\%", "8\\%", "0.8\\%", "8000\\%", "\\$80"),
    ),
    Family("80", ("80\\%", "80", "80 \\%", "\\text{80}"), ("0.8", "8\\%")),
    Family("12.5\\%", ("12.5", "0.125", "\\frac{1}{8}", "12.5 \\%"), ("125", "1.25", "0.125\\%")),
    # two percentages compare their numbers only
    Family("25\\%", ("25\\%", "25 percent", "0.25", "\\frac14"), ("0.25\\%", "2500\\%", "\\$25")),
    Family("100\\%", ("1", "100", "100\\%"), ("1\\%", "10000\\%")),
    Family("5\\%", ("5", "0.05", "5 \\text{ percent}"), ("5 \\text{ dollars}", "\\$5", "0.05\\%")),
    Family("28", ("28\\%", "28 pct", "28"), ("0.28", "\\frac{28}{100}")),
    Family("0.28", ("28\\%", "0.28"), ("28",)),
    # degrees, from either side
    Family(
        "90^\\circ",
        ("90", "90^{\\circ}", "90°", "90 \\text{ degrees}", "90\\degree", "90^\\circ"),
        ("45^\\circ", "180"),
    ),
    Family("30", ("30^\\circ", "30^{\\circ}", "30"), ("60^\\circ",)),
    # roots, pi, exponents
    Family(
        "2\\sqrt{2}",
        ("\\sqrt{8}", "2 \\sqrt 2", "2\\sqrt2", "\\sqrt{2}\\cdot 2", "2^{3/2}"),
        ("\\sqrt{2}", "4", "2\\sqrt{3}"),
    ),
    Family("3\\sqrt{13}", ("3\\sqrt{13}", "\\sqrt{117}", "3 \\sqrt{13}"), ("13\\sqrt{3}",)),
    Family(
        "\\frac{9}{4}\\pi",
        ("\\frac94\\pi", "2.25\\pi", "\\frac{9\\pi}{4}"),
        ("\\frac{4}{9}\\pi", "7.07"),
    ),
    Family("2\\pi", ("2\\pi", "\\pi \\cdot 2", "2 \\pi"), ("6.283", "\\pi", "6.28")),
    Family("\\frac{\\sqrt{3}}{3}", ("\\frac{1}{\\sqrt{3}}", "\\frac{\\sqrt3}{3}"), ("\\sqrt{3}",)),
    Family("2^{10}", ("1024", "2^{10}", "4^5"), ("2^{11}", "1000")),
    # complex numbers: i is the imaginary unit on both sides
    Family(
        "\\frac{3}{5}+\\frac{4}{5}i",
        ("\\frac{3+4i}{5}", "0.6+0.8i", "\\frac{4i+3}{5}", "\\frac35+\\frac45i"),
        ("\\frac{3-4i}{5}", "\\frac{3}{5}"),
    ),
    Family("1-i", ("1-i", "-i+1", "\\frac{2-2i}{2}"), ("1+i", "i-1")),
    Family("-1", ("i^2", "-1"), ("1",)),
    Family("2i", ("2i", "i+i", "\\sqrt{-4}"), ("2", "-2i")),
    # intervals, unions, sets, lists, tuples
    Family(
        "(-\\infty, -3] \\cup [2, \\infty)",
        (
            "(-\\infty,-3]\\cup[2,\\infty)",
            "\\left(-\\infty, -3\\right] \\cup \\left[2, \\infty\\right)",
        ),
        ("[-3,2]", "(-\\infty, -3) \\cup (2, \\infty)"),
    ),
    Family("[0,1)", ("[0, 1)", "\\left[0,1\\right)"), ("(0,1)", "[0,1]")),
    Family("(1,4.5)", ("(1,\\frac{9}{2})", "\\left(1, \\frac92\\right)"), ("(4.5,1)",)),
    Family("\\{1,2,3\\}", ("\\{3,2,1\\}", "\\{1, 2, 3\\}", "\\{1, 2, 3\\},"), ("\\{1,2\\}",)),
    Family("-2, 1", ("1, -2", "-2,1", "-2, 1", "-2, 1,"), ("-2", "2, -1", "1,")),
    Family(
        "1 \\pm \\sqrt{19}",
        ("1 \\pm \\sqrt{19}", "1\\pm\\sqrt{19}"),
        ("1 + \\sqrt{19}", "\\sqrt{19}"),
    ),
    Family(
        "(3, \\frac{\\pi}{2})",
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
        ("(\\frac{\\pi}{2}, 3)", "(3, \\pi)"),
    ),
    Family("(6,31,-1)", ("(6,31,-1)", "(6, 31, -1)"), ("(6,-1,31)",)),
    # matrices and vectors
    Family(
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        (
            "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}",
        ),
        (
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}",
            "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}",
        ),
    ),
    Family(
        "\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}",
        ("\\begin{pmatrix}-1\\\\2\\end{pmatrix}", "\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}"),
        ("\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}",),
    ),
    # text answers and choices
    Family("\\text{Evelyn}", ("\\text{Evelyn}", "\\textbf{Evelyn}"), ("\\text{Briana}",)),
    Family("\\text{(C)}", ("\\text{(C)}", "C", "(C)", "\\text{C}"), ("\\text{(D)}", "D")),
    Family("\\text{odd}", ("\\text{odd}", "\\textbf{odd}"), ("\\text{even}",)),
    # equations, expressions, inequalities
    Family("x^2 - 1", ("(x-1)(x+1)", "(x+1)(x-1)", "x^2-1"), ("x^2+1", "(x-1)^2")),
    Family("y = 2x + 3", ("y=2x+3", "y = 3 + 2x", "y - 3 = 2x"), ("y = 2x - 3", "y = 3x + 2")),
    Family("x = 5", ("5", "x=5", "x = 5", "5 = x"), ("x = 6", "6", "6 = x")),
    Family("5", ("5 = x", "x = 5", "5 = a_1"), ("6 = x", "x = 6")),
    Family("x \\geq 5", ("x \\ge 5", "5 \\leq x", "x\\geq5"), ("x > 5", "x \\leq 5")),
    Family("2 \\sin b \\cos a", ("2\\sin b\\cos a", "2 \\cos a \\sin b"), ("2 \\sin a \\cos b",)),
    Family("\\frac{x+2}{7}", ("\\frac{x}{7}+\\frac{2}{7}", "\\frac{2+x}{7}"), ("\\frac{x+2}{5}",)),
    Family("\\infty", ("\\infty",), ("-\\infty", "0")),
    # bases and scientific notation
    Family("204_5", ("204_5", "204_{5}"), ("204_6",)),
    Family(
        "300000",
        ("3 \\times 10^{5}", "300{,}000", "3\\cdot 10^5", "300\\,000"),
        ("3 \\times 10^{4}",),
    ),
    # clock times: AM/PM is part of the answer
    Family(
        "3 \\text{ PM}",
        ("3 \\text{ PM}", "3 \\text{ p.m.}", "\\text{3 PM}", "3 pm", "3\\text{pm}"),
        ("3 \\text{ AM}", "3", "3 \\text{ a.m.}", "4 \\text{ PM}"),
    ),
    Family(
        "\\text{12 noon}",
        ("12 \\text{ PM}", "\\text{12 noon}", "12 \\text{ noon}"),
        ("\\text{12 midnight}", "12 \\text{ AM}", "12"),
    ),
    # multipliers are applied, never dropped
    Family(
        "4000000",
        ("4 \\text{ million}", "\\text{4 million}", "4\\,000\\,000", "4 \\times 10^6", "4 million"),
        ("4", "4 \\text{ thousand}", "4 \\text{ billion}", "40 \\text{ million}"),
    ),
    Family(
        "1500000",
        ("1.5 \\text{ million dollars}", "\\$1.5\\text{ million}", "1.5 \\text{ million}"),
        ("1.5", "15 \\text{ million}", "1.5 \\text{ billion}"),
    ),
    Family(
        "24", ("2 \\text{ dozen}", "24", "2 \\text{ dozen eggs}"), ("2", "2 \\text{ dozens of}")
    ),
    Family("300", ("3 \\text{ hundred}", "300"), ("3",)),
    # words that change the number are part of the answer; counted nouns are not
    Family(
        "5",
        ("5", "5 \\text{ apples}", "5 \\text{ ways}", "5 \\text{ times}", "5 \\text{ people}"),
        (
            *(
                "5 \\text{ or more}",
                "\\text{5 or more}",
                "5 \\text{ or less}",
                "5 \\text{ at most}",
            ),
            *("5 \\text{ squared}", "5 \\text{ million}", "\\$5\\text{ million}", "5 \\text{ PM}"),
            *("5 \\text{ thousand}", "5 \\text{ dozen}", "5 \\text{ hundred}", "5 more"),
        ),
    ),
    Family(
        "\\text{5 or more}",
        ("5 \\text{ or more}", "\\text{5 or more}"),
        ("5", "5 \\text{ or less}"),
    ),
    # units: one spelling each, and two different units are never equal
    Family(
        "5 \\text{ cm}",
        ("5", "5 cm", "5 \\text{ centimeters}", "5\\text{ cm}", "\\text{5 cm}", "5\\,\\mathrm{cm}"),
        ("5 \\text{ m}", "5 \\text{ mm}", "5 \\text{ cm}^2", "5 \\text{ km}", "5 \\text{ in}", "6"),
    ),
    Family(
        "5 \\text{ minutes}",
        ("5", "5 \\text{ min}", "5 \\text{ mins}", "5 minutes", "5 \\text{ minute}"),
        ("5 \\text{ hours}", "5 \\text{ seconds}", "5 \\text{ s}", "5 \\text{ days}"),
    ),
    Family(
        "6 \\text{ cm}^2",
        ("6", "6 \\text{ square centimeters}", "6 \\text{ sq cm}", "6\\text{ cm}^{2}"),
        ("6 \\text{ cm}", "6 \\text{ cm}^3", "6 \\text{ m}^2", "6 \\text{ cubic cm}"),
    ),
    Family(
        "5 \\text{ kg}", ("5 \\text{ kilograms}", "5", "5 kg"), ("5 \\text{ g}", "5 \\text{ lb}")
    ),
    Family(
        "5 \\text{ mL}", ("5 \\text{ milliliters}", "5 ml"), ("5 \\text{ L}", "5 \\text{ liters}")
    ),
    Family(
        "5 \\text{ ft}",
        ("5 \\text{ feet}", "5 \\text{ foot}", "5"),
        ("5 \\text{ in}", "5 \\text{ yd}"),
    ),
    Family("\\$5", ("5", "5 \\text{ dollars}", "\\$5.00", "\\$ 5"), ("5\\%", "5 \\text{ cents}")),
    Family(
        "60 \\text{ mph}",
        ("60 \\text{ miles per hour}", "60", "60 \\text{ mi/h}", "60 mph"),
        ("60 \\text{ km/h}", "60 \\text{ miles}", "60 \\text{ m/s}"),
    ),
    Family(
        "90^\\circ \\text{C}",
        ("90", "90 \\text{ degrees Celsius}", "90°C", "90^\\circ C", "90^{\\circ}\\text{C}"),
        ("90 \\text{ degrees Fahrenheit}", "90^\\circ F", "90^\\circ \\text{F}"),
    ),
    Family(
        "5 \\text{ km}",
        ("5\\text{千米}", "5 \\text{ kilometers}", "5\\text{公里}"),
        ("5\\text{米}", "5 m"),
    ),
    Family("20\\text{元}", ("20", "20\\text{ 元}"), ("20 \\text{ dollars}", "2")),
    Family(
        "3", ("3\\text{rd}", "3\\text{个}", "3\\text{次}"), ("3\\text{ sprockets}", "4\\text{th}")
    ),
    # plus-minus: one sign is the pair of its values, whatever the spacing
    Family(
        "\\frac{-1 \\pm \\sqrt{5}}{2}",
        (
            *("\\frac{-1\\pm\\sqrt{5}}{2}", "\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}"),
            *("\\frac{-1}{2} \\pm \\frac{\\sqrt{5}}{2}", "x = \\frac{-1 \\pm \\sqrt{5}}{2}"),
            "\\frac{-1 \\mp \\sqrt{5}}{2}",
        ),
        ("\\frac{-1+\\sqrt{5}}{2}", "\\frac{1 \\pm \\sqrt{5}}{2}", "\\frac{-1 \\pm \\sqrt{5}}{4}"),
    ),
    Family(
        "\\frac{3\\pm\\sqrt{5}}{4}",
        (
            "\\frac{6\\pm2\\sqrt{5}}{8}",
            "\\frac34 \\pm \\frac{\\sqrt5}{4}",
            "\\frac{3 \\pm \\sqrt{5}}{4}",
        ),
        ("\\frac{3\\pm\\sqrt{7}}{4}", "\\frac{3\\pm\\sqrt{5}}{2}"),
    ),
    Family(
        "\\pm\\frac{1}{2}", ("\\frac{\\pm 1}{2}", "\\frac12, -\\frac12", "\\pm 0.5"), ("\\frac12",)
    ),
    # repeating decimals are their fractions
    Family(
        "\\frac{2}{3}",
        ("0.\\overline{6}", "0.\\overline{66}", "\\frac{4}{6}", "0.\\overline6"),
        ("0.6", "0.66", "0.67", "6", "0"),
    ),
    Family(
        "0.\\overline{3}",
        ("\\frac{1}{3}", "0.\\overline{33}", "\\frac{3}{9}"),
        ("0.3", "0.33", "3"),
    ),
    Family("\\frac{1}{6}", ("0.1\\overline{6}",), ("0.16", "0.1\\overline{7}")),
    Family("\\frac{1}{7}", ("0.\\overline{142857}",), ("0.\\overline{142856}",)),
    Family("\\frac{4}{11}", ("0.\\overline{36}",), ("0.36",)),
    Family("\\frac{4}{3}", ("1.\\overline{3}",), ("1.3",)),
    Family("1", ("0.\\overline{9}", "1"), ("0.9", "0.\\overline{8}")),
    # inequalities and intervals, from either side
    Family(
        "(-\\infty, 3)", ("x < 3", "3 > x", "(-\\infty,3)"), ("x \\le 3", "x > 3", "(-\\infty, 3]")
    ),
    Family("[2, \\infty)", ("x \\ge 2", "x \\geq 2", "2 \\le x"), ("x > 2", "x \\le 2")),
    Family("(-2, 3)", ("-2 < x < 3",), ("-2 \\le x < 3", "(-2, 3]")),
    Family("x < 3", ("(-\\infty, 3)", "x<3"), ("(-\\infty, 3]", "x > 3")),
    # units in the label
    Family("125\\text{ miles}", ("125", "125 \\text{ miles}", "125\\textnormal{ miles}"), ("152",)),
    Family("15\\mbox{ cm}^2", ("15", "15\\text{ cm}^2", "15 \\text{ cm}^{2}"), ("25",)),
    Family("4 \\text{ inches}", ("4", "4\\text{ in}", "4 inches"), ("16",)),
)

UNSETTLED = (
    # degrees against radians: MATH and math-verify read 30^\circ as 30
    ("\\frac{\\pi}{6}", "30^\\circ"),
    ("\\frac{\\pi}{4}", "45^\\circ"),
    # a mixed number: math-verify reads 2\frac{1}{2} as 2 * 1/2
    ("\\frac{5}{2}", "2\\frac{1}{2}"),
    # an equation against its right side
    ("2x + 3", "y = 2x + 3"),
    ("11a+c", "7 = 11a+c"),
    # Greek letters that latex2sympy2_extended reads as constants
    ("\\gamma", "\\gamma"),
    ("2\\Gamma", "2\\gamma"),
    ("\\Gamma(5)", "24"),
    ("\\gamma_1", "\\gamma_1"),
    # a list against a set and a tuple
    ("10, 4, -2", "4, 10, -2"),
    ("(10, 4, -2)", "\\{4, 10, -2\\}"),
    # text with connectives, ranges
    ("12 \\text{ and } 13", "12, 13"),
    ("5 \\text{ to } 7", "5"),
    # approximations
    ("3.14", "\\pi"),
    ("0.333", "\\frac{1}{3}"),
    ("0.3333333", "\\frac{1}{3}"),
    ("1.41421356", "\\sqrt{2}"),
    # percent inside bigger answers
    ("10\\%, 20\\%", "10, 20"),
    ("(10\\%, 20\\%)", "(0.1, 0.2)"),
    ("\\frac{1}{3}\\%", "\\frac{1}{300}"),
    # odd but real model outputs
    ("\\boxed{5}", "5"),
    ("5}", "5"),
    ("\\dfrac{1}{2", "\\frac{1}{2}"),
    ("", "5"),
    ("\\text{No solution}", "\\emptyset"),
    ("\\varnothing", "\\emptyset"),
    ("x \\in [-2, 7]", "[-2, 7]"),
    ("-2 \\le x \\le 7", "[-2,7]"),
    ("f(2) < f(1) < f(4)", "f(2) < f(1) < f(4)"),
    ("e^{i\\pi}", "-1"),
    ("\\mathbf{i}", "i"),
    ("\\mathbb{7}", "7"),
    ("\\mathcal{7}", "7"),
    ("\\operatorname{7}", "7"),
)


def right_pairs() -> list[tuple[str, str]]:
    """(answer, label) pairs where the answer equals the label."""
    return [(answer, family.label) for family in FAMILIES for answer in family.right]


def wrong_pairs() -> list[tuple[str, str]]:
    """(answer, label) pairs where the answer does not equal the label."""
    return [(answer, family.label) for family in FAMILIES for answer in family.wrong]


def all_pairs() -> list[tuple[str, str]]:
    """Every pair, the unsettled ones included."""
    return right_pairs() + wrong_pairs() + list(UNSETTLED)


def qwen_response(answer: str, verdict_sentence: str = "The answer is correct.") -> str:
    """A response the way Qwen2.5-Math writes one when prompted for the trained format."""
    return (
        "<think>Let me work through the problem step by step, then check the result.</think>\n"
        f"Therefore, the final answer is $\\boxed{{{answer}}}$.\n"
        f"<reflection>I substituted the result back into the original conditions. "
        f"{verdict_sentence}</reflection><|im_end|>"
    )
