"""Static figures. Plotting draws result objects; it never computes statistics."""
