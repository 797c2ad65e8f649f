"""Analytics: TradingView's strategy-report metrics, quality tags and overfitting statistics,
plus the computations the reports and the application views share (rebuilt equity curves,
parameter-grid axes) so that neither imports the other."""
