"""leapserve's serving side: the native Bundle.ML runtime (server.runtime) and the services around it."""
