"""leapserve's serving side: the native Bundle.ML runtime (leapserve.runtime) and the services around it."""
