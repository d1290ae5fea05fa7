"""Reward-service clients for trainers other than verl (verl's lives in ``trainer/``)."""
