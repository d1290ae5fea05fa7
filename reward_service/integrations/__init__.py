"""Each trainer's adapter: what it sends and reads back, and how it reaches the service.

- :mod:`~reward_service.integrations.openrlhf`: ``POST /openrlhf/get_reward``, OpenRLHF's
  remote reward protocol, served by the service (it builds on :mod:`reward_service.api`);
  :mod:`~reward_service.integrations.openrlhf_prompt` finds the response in its queries.
- :mod:`~reward_service.integrations.trl`: TRL's ``GRPOTrainer`` reward functions, which
  score through :mod:`reward_service.client`.

verl's reward manager is the training recipe's own (``trainer/http_reward_manager.py``);
it scores through :mod:`reward_service.client` too.
"""
