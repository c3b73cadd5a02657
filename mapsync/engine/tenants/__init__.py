"""Many tenants: the registry (``registry``), running them on one machine (``serve``) and their status."""
