"""The flows: business rules written against bridge.sync.ports and bridge.domain only."""
