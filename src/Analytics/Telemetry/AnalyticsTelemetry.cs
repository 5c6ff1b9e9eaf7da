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
    private readonly Counter<long> _hits;

    public AnalyticsMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(AnalyticsTelemetry.Name, AnalyticsTelemetry.Version);
        _hits = Meter.CreateCounter<long>("analytics.hits", "{hit}", "Hits received, by outcome and endpoint.");
        CommitBatchSize = Meter.CreateHistogram<int>("analytics.commit.batch_size", "{hit}", "Hits written to Redis per group commit.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] });
        CommitDuration = Meter.CreateHistogram<double>("analytics.commit.duration", "s", "Time to write one group commit to Redis.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        CommitFailures = Meter.CreateCounter<long>("analytics.commit.failures", "{batch}", "Group commits Redis did not acknowledge (kept in memory and retried).");
        RollupRuns = Meter.CreateCounter<long>("analytics.rollup.runs", "{run}", "Rollups by result: ok, failed, or skipped (another node held the lock).");
        RollupRows = Meter.CreateCounter<long>("analytics.rollup.rows", "{row}", "Rows written to ClickHouse by rollups.");
        RollupDuration = Meter.CreateHistogram<double>("analytics.rollup.duration", "s", "Time of one rollup.");
        LivePushes = Meter.CreateCounter<long>("analytics.live.pushes", "{push}", "Counts pushed to live subscribers.");
        LivePushLatency = Meter.CreateHistogram<double>("analytics.live.push_latency", "s", "From the group commit of a change to its push.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        LiveConnections = Meter.CreateUpDownCounter<long>("analytics.live.connections", "{connection}", "Open SignalR connections to the live hub.");
        ExportRows = Meter.CreateCounter<long>("analytics.export.rows", "{row}", "Report rows written by exports and daily files.");
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

    public void Hit(HitOutcome outcome, string endpoint, long count = 1) =>
        _hits.Add(count, new KeyValuePair<string, object?>("outcome", OutcomeTag(outcome)), new KeyValuePair<string, object?>("endpoint", endpoint));

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
