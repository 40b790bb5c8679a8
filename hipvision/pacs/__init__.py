"""Working with the clinic's PACS: structured reports and what was sent (Qt-free)."""
