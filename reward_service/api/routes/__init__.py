"""The service's own routes, one router per concern (OpenRLHF's is in
:mod:`reward_service.integrations.openrlhf`, Ray Serve's in :mod:`reward_service.replicas`)."""
