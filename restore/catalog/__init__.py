"""The snapshot catalog: every snapshot's tree of a share, searchable by name (docs/catalog.md).

Modules: logic (pure), build (the builder), search, lookup (for previous_versions), sources.
"""
