"""Demo source systems for fundcdp: writes landing/ exactly as the trade system, CRM and tracking deliver."""
