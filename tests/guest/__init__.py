"""Tests of the guest side against a real Xvfb."""
