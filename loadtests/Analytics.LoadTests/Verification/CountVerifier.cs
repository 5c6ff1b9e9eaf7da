using ClickHouse.Driver;
using StackExchange.Redis;

namespace Analytics.LoadTests.Verification;

/// <summary>
/// Checks that the stores hold exactly what a load acknowledged: Redis (views per day, per page,
/// per referrer and the all-time total of every site of the run) right after the load, and
/// ClickHouse (daily_site / daily_page / daily_referrer FINAL) after a rollup — against the
/// acknowledged counts, and against Redis, to the unit.
/// A plain class over the service's stores, so a test can point it at any target, such as
/// <c>lossy-target</c>, which acknowledges hits it does not count.
/// </summary>
internal sealed class CountVerifier(IConnectionMultiplexer redis, ClickHouseClient? clickHouse)
{
    public Task<StoreSnapshot> ReadRedisAsync(IEnumerable<string> sites, CancellationToken cancellationToken = default) =>
        StoreReaders.ReadRedisAsync(redis, sites, cancellationToken);

    public Task<StoreSnapshot> ReadClickHouseAsync(IEnumerable<string> sites, CancellationToken cancellationToken = default) =>
        StoreReaders.ReadClickHouseAsync(clickHouse ?? throw new InvalidOperationException("No ClickHouse to verify."), sites, cancellationToken);

    /// <summary>Redis against the acknowledged counts.</summary>
    public async Task<(VerificationResult Result, StoreSnapshot Snapshot)> VerifyRedisAsync(ExpectedCounts expected, CancellationToken cancellationToken = default)
    {
        var snapshot = await ReadRedisAsync(expected.Sites, cancellationToken);
        return (Compare(expected, snapshot), snapshot);
    }

    /// <summary>
    /// Rolls the sites' changed days up (<see cref="Rollups"/>), then checks ClickHouse against the
    /// acknowledged counts and, when given, against Redis's snapshot (which must agree exactly).
    /// </summary>
    public async Task<(VerificationResult Acknowledged, VerificationResult? Redis, StoreSnapshot Snapshot)> VerifyClickHouseAsync(ExpectedCounts expected, StoreSnapshot? redisSnapshot, CancellationToken cancellationToken = default)
    {
        var snapshot = await ReadClickHouseAsync(expected.Sites, cancellationToken);
        var againstRedis = redisSnapshot is null ? null : CompareStores(redisSnapshot, snapshot);
        return (Compare(expected, snapshot, totals: true), againstRedis, snapshot);
    }

    /// <summary>A store against the acknowledged counts: every counter within what the load allows, none elsewhere.</summary>
    public static VerificationResult Compare(ExpectedCounts expected, StoreSnapshot actual, bool totals = true)
    {
        var bounds = CountBounds.Of(expected);
        var mismatches = new List<Mismatch>();
        var count = 0;
        long checkedCounters = 0;

        void Check<TKey>(string counter, Dictionary<TKey, (long Lower, long Upper)> allowed, IReadOnlyDictionary<TKey, long> found, Func<TKey, string> describe)
            where TKey : notnull
        {
            foreach (var key in allowed.Keys.Union(found.Keys))
            {
                checkedCounters++;
                var (lower, upper) = allowed.GetValueOrDefault(key);
                var value = found.GetValueOrDefault(key);
                if (value < lower || value > upper)
                {
                    count++;
                    if (mismatches.Count < VerificationResult.MaxListed)
                    {
                        mismatches.Add(new Mismatch(counter, describe(key), lower, upper, value));
                    }
                }
            }
        }

        Check("views", bounds.Days, actual.Days, k => $"{k.Site} {k.Day:yyyy-MM-dd}");
        Check("page", bounds.Pages, actual.Pages, k => $"{k.Site} {k.Day:yyyy-MM-dd} {k.Path}");
        Check("referrer", bounds.Referrers, actual.Referrers, k => $"{k.Site} {k.Day:yyyy-MM-dd} {k.Referrer}");
        if (totals)
        {
            Check("total", bounds.Totals, actual.Totals, k => k);
        }

        return new VerificationResult(actual.Store, "acknowledged", expected.IsExact, expected.MustCount, expected.UncertainViews,
            actual.Days.Values.Sum(), checkedCounters, count, mismatches);
    }

    /// <summary>Two stores must agree exactly (ClickHouse after a rollup holds what Redis holds).</summary>
    public static VerificationResult CompareStores(StoreSnapshot expected, StoreSnapshot actual)
    {
        var mismatches = new List<Mismatch>();
        var count = 0;
        long checkedCounters = 0;

        void Check<TKey>(string counter, IReadOnlyDictionary<TKey, long> want, IReadOnlyDictionary<TKey, long> found, Func<TKey, string> describe)
            where TKey : notnull
        {
            foreach (var key in want.Keys.Union(found.Keys))
            {
                checkedCounters++;
                var wanted = want.GetValueOrDefault(key);
                var value = found.GetValueOrDefault(key);
                if (wanted != value)
                {
                    count++;
                    if (mismatches.Count < VerificationResult.MaxListed)
                    {
                        mismatches.Add(new Mismatch(counter, describe(key), wanted, wanted, value));
                    }
                }
            }
        }

        // Redis keeps empty days out; ClickHouse never has a zero row either.
        Check("views", expected.Days.Where(d => d.Value != 0).ToDictionary(), actual.Days, k => $"{k.Site} {k.Day:yyyy-MM-dd}");
        Check("page", expected.Pages, actual.Pages, k => $"{k.Site} {k.Day:yyyy-MM-dd} {k.Path}");
        Check("referrer", expected.Referrers, actual.Referrers, k => $"{k.Site} {k.Day:yyyy-MM-dd} {k.Referrer}");
        var wantedViews = expected.Days.Values.Sum();
        return new VerificationResult(actual.Store, expected.Store, true, wantedViews, 0, actual.Days.Values.Sum(), checkedCounters, count, mismatches);
    }
}
