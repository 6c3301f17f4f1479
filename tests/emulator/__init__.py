"""A Messages-API emulator: a real HTTP server on 127.0.0.1 that plays scripted model turns."""
