"""Deployment extras: scale-out on Ray Serve, monitoring configuration."""
