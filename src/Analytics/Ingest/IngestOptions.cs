namespace Analytics.Ingest;

internal sealed class IngestOptions
{
    public const string Section = "Analytics:Ingest";

    /// <summary>Hits a second per client address; 0 turns the limit off.</summary>
    public int ClientRateLimit { get; set; } = 100;

    /// <summary>Largest body of a single hit (beacon, Plausible, Umami).</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Largest body of a batch to <c>/api/events</c>.</summary>
    public int MaxBatchBytes { get; set; } = 4 * 1024 * 1024;

    public int MaxBatchEvents { get; set; } = 10_000;

    /// <summary>
    /// How far back a batch event's <c>ts</c> may go. Must stay inside the Redis retention of
    /// rolled-up days, or a back-filled day would restart from zero and overwrite ClickHouse.
    /// </summary>
    public TimeSpan MaxBackfill { get; set; } = TimeSpan.FromDays(35);

    /// <summary>The longest page URL, in bytes (UTF-8, as sent).</summary>
    public int MaxUrlLength { get; set; } = 2048;
}
