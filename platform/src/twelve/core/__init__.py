"""The platform's core: paths, configuration, environment and deployment profile."""
