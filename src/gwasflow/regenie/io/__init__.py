"""gwasflow.regenie.io"""
