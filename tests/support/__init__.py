"""Helpers shared by the test packages (layers, ports, harnesses); fixtures stay in conftests."""
