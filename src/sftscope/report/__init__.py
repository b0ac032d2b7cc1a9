"""sftscope.report"""
