"""The compute and image endpoints, one module per resource (servers, server actions, instance
actions, services, flavors, images, versions)."""
