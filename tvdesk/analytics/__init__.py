"""Analytics: TradingView's strategy-report metrics, quality tags and overfitting statistics."""
