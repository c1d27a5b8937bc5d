"""gwasflow.engine"""
