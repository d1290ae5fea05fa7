"""The training side: verl reward managers that call the reward service, data, model settings."""
