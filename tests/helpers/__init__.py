"""Shared test helpers: free ports, throwaway clusters with certificates, real TLS meshes."""
