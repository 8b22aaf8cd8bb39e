"""The local cloud: template.yaml provisioned on moto, and the handlers run in-process.

The test suite provisions AWS from here today; `make local` grows from the same code.
"""
