"""gwasflow.report"""
