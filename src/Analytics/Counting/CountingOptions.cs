namespace Analytics.Counting;

internal sealed class CountingOptions
{
    public const string Section = "Analytics:Counting";

    /// <summary>Hits held in memory while Redis is unreachable; past this, ingest answers 503.</summary>
    public int MaxBufferedHits { get; set; } = 1_000_000;

    /// <summary>First wait before writing again after Redis failed; doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Batches written to Redis at once; while they are on the wire the next batch fills up. One
    /// measured best on two cores (bigger batches, less Redis CPU per hit); more helps when Redis
    /// is far away.
    /// </summary>
    public int MaxWritesInFlight { get; set; } = 1;
}
