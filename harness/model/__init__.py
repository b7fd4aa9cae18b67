"""Model: the network families, the group catalogue, losses, data sets, scenarios and their spec grammar."""
