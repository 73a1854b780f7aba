"""Reports for agents and staff (CSV and PDF)."""
