"""The code-set catalog: ICD-10-CM, ICD-10-PCS, HCPCS Level II and imported CPT."""
