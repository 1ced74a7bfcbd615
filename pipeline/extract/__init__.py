"""Source adapters: each turns one kind of source into canonical `SourceTable`s."""
