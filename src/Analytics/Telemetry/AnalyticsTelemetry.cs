using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Analytics.Telemetry;

/// <summary>Why a hit was or was not counted (a bounded tag value).</summary>
internal enum HitOutcome
{
    Counted,
    Bot,
    NotAPageView,
    Invalid,
    UnknownSite,
    RateLimited,
    Unavailable,
}

/// <summary>The service's ActivitySource and the names its telemetry goes by.</summary>
internal static class AnalyticsTelemetry
{
    public const string Name = "Analytics";

    public static readonly string Version = typeof(AnalyticsTelemetry).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public static readonly ActivitySource Source = new(Name, Version);
}

/// <summary>
/// The service's one Meter (from IMeterFactory, so each host has its own) and its instruments.
/// Tags are bounded: outcome, endpoint kind, table, result; never URLs, sites or visitors.
/// </summary>
internal sealed class AnalyticsMetrics
{
    /// <summary>The endpoint kinds hits are counted by (a bounded tag value).</summary>
    private static readonly string[] Endpoints = ["pixel", "event", "send", "batch"];

    private static readonly int Outcomes = Enum.GetValues<HitOutcome>().Length;

    // Hits by outcome and endpoint: the hottest instrument, so a plain array of counters that the
    // observable counter reads at collection time, instead of a tagged measurement per hit.
    private readonly long[] _hits = new long[Outcomes * Endpoints.Length];

    public AnalyticsMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(AnalyticsTelemetry.Name, AnalyticsTelemetry.Version);
        Meter.CreateObservableCounter("analytics.hits", ObserveHits, "{hit}", "Hits received, by outcome and endpoint.");
        CommitBatchSize = Meter.CreateHistogram<int>("analytics.commit.batch_size", "{hit}", "Hits written to Redis per group commit.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] });
        CommitDuration = Meter.CreateHistogram<double>("analytics.commit.duration", "s", "Time to write one group commit to Redis.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        CommitFailures = Meter.CreateCounter<long>("analytics.commit.failures", "{batch}", "Group commits Redis did not acknowledge (kept in memory and retried).");
        RollupRuns = Meter.CreateCounter<long>("analytics.rollup.runs", "{run}", "Rollups by result: ok, failed, or skipped (another node held the lock).");
        RollupRows = Meter.CreateCounter<long>("analytics.rollup.rows", "{row}", "Rows written to ClickHouse by rollups.");
        RollupDuration = Meter.CreateHistogram<double>("analytics.rollup.duration", "s", "Time of one rollup.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        LivePushes = Meter.CreateCounter<long>("analytics.live.pushes", "{push}", "Counts pushed to live subscribers.");
        LivePushLatency = Meter.CreateHistogram<double>("analytics.live.push_latency", "s", "From the group commit of a change to its push.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        LiveConnections = Meter.CreateUpDownCounter<long>("analytics.live.connections", "{connection}", "Open SignalR connections to the live hub.");
        ExportRows = Meter.CreateCounter<long>("analytics.export.rows", "{row}", "Report rows written by exports and daily files.");

        // Every counter exported from the start, at 0: rate() and increase() see the first event
        // after a start (a first failed rollup, say), and boards and alerts see 0, not nothing.
        CommitFailures.Add(0);
        foreach (var result in new[] { "ok", "failed", "skipped" })
        {
            RollupRuns.Add(0, new KeyValuePair<string, object?>("result", result));
        }

        RollupRows.Add(0);
        LivePushes.Add(0);
        LiveConnections.Add(0);
        ExportRows.Add(0);
    }

    public Meter Meter { get; }

    public Histogram<int> CommitBatchSize { get; }

    public Histogram<double> CommitDuration { get; }

    public Counter<long> CommitFailures { get; }

    public Counter<long> RollupRuns { get; }

    public Counter<long> RollupRows { get; }

    public Histogram<double> RollupDuration { get; }

    public Counter<long> LivePushes { get; }

    public Histogram<double> LivePushLatency { get; }

    public UpDownCounter<long> LiveConnections { get; }

    public Counter<long> ExportRows { get; }

    /// <summary>Counts hits; <paramref name="endpoint"/> is one of pixel, event, send or batch.</summary>
    public void Hit(HitOutcome outcome, string endpoint, long count = 1)
    {
        var e = Array.IndexOf(Endpoints, endpoint);
        if (e < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(endpoint), endpoint, "Not an endpoint kind hits are counted by.");
        }

        if (count != 0)
        {
            Interlocked.Add(ref _hits[(int)outcome * Endpoints.Length + e], count);
        }
    }

    /// <summary>Every (outcome, endpoint), from the start (a bounded 7 × 4 series).</summary>
    private IEnumerable<Measurement<long>> ObserveHits()
    {
        for (var i = 0; i < _hits.Length; i++)
        {
            var (outcome, endpoint) = ((HitOutcome)(i / Endpoints.Length), Endpoints[i % Endpoints.Length]);
            yield return new Measurement<long>(Volatile.Read(ref _hits[i]), new KeyValuePair<string, object?>("outcome", OutcomeTag(outcome)), new KeyValuePair<string, object?>("endpoint", endpoint));
        }
    }

    /// <summary>Hits held in memory while Redis is away.</summary>
    public void ObserveBufferedHits(Func<long> bufferedHits) =>
        Meter.CreateObservableGauge("analytics.buffered_hits", bufferedHits, "{hit}", "Hits acknowledged while Redis was unreachable and not yet written.");

    /// <summary>Seconds since the last successful rollup, and (site, day) pairs waiting for one.</summary>
    public void ObserveRollup(Func<double> lagSeconds, Func<long> pendingPairs)
    {
        Meter.CreateObservableGauge("analytics.rollup.lag", lagSeconds, "s", "Time since the last successful rollup.");
        Meter.CreateObservableGauge("analytics.rollup.pending", pendingPairs, "{pair}", "Changed (site, day) pairs waiting for a rollup, as of the last one.");
    }

    private static string OutcomeTag(HitOutcome outcome) => outcome switch
    {
        HitOutcome.Counted => "counted",
        HitOutcome.Bot => "bot",
        HitOutcome.NotAPageView => "not_pageview",
        HitOutcome.Invalid => "invalid",
        HitOutcome.UnknownSite => "unknown_site",
        HitOutcome.RateLimited => "rate_limited",
        _ => "unavailable",
    };
}
