"""HTTP controllers, one per resource. They translate; the application decides."""
