"""sftscope.analyze"""
