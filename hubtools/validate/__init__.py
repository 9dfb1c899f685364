"""The validator: a manifest's JSON Schema, the semantic checks the schema
cannot express, and the cross-check of every entry against a repository's
files, each problem located by line, column and JSON pointer. It must not
change the manifest or the repository: it only reports.
"""
