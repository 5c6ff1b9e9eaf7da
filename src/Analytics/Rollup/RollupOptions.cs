namespace Analytics.Rollup;

internal sealed class RollupOptions
{
    public const string Section = "Analytics:Rollup";

    /// <summary>How often changed counters are written to ClickHouse.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Redis day counters expire this long after their day, once rolled up; the all-time total never does.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(40);

    /// <summary>(site, day) pairs taken per ClickHouse write.</summary>
    public int PairsPerWrite { get; set; } = 500;

    /// <summary>How long the rollup lock outlives a holder that stopped renewing it (a crashed node).</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait between attempts while ClickHouse fails.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Off turns the background rollup off on this node (others, or the CLI, still roll up).</summary>
    public bool Enabled { get; set; } = true;
}
