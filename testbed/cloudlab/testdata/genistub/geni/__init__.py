"""A stand-in for geni-lib, just enough to run profile.py in the tests:
it records what the profile asks for and prints it as JSON."""
