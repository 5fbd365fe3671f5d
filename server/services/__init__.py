"""The gRPC services of `leapserve serve` (see server/app.py for how they are put together)."""
