"""Build and check code the command-line scripts (scripts/) run and the tests import: never imported by the product."""
