"""sftscope.evaluate"""
