using System.Diagnostics;
using System.Globalization;
using Analytics.Cli;
using Analytics.Counting;
using Analytics.Rollup;
using StackExchange.Redis;

namespace Analytics.LoadTests.Verification;

/// <summary>What triggering a rollup took: passes made, site-days and rows written, and the time until nothing of the run was pending.</summary>
internal sealed record RollupRun(int Passes, int Pairs, long Rows, TimeSpan Elapsed, TimeSpan LastPass)
{
    public string Describe() => Pairs == 0
        ? string.Create(CultureInfo.InvariantCulture, $"rollup: nothing was left to roll up (rolled up already, by the service's own worker); checked in {Elapsed.TotalMilliseconds:N0} ms")
        : string.Create(CultureInfo.InvariantCulture, $"rollup: {Pairs:N0} site-days, {Rows:N0} rows in {Passes} pass(es), {Elapsed.TotalMilliseconds:N0} ms");
}

/// <summary>
/// Rolls up now, with the service's own <see cref="RollupRunner"/> (as <c>analytics rollup</c>
/// does, through <see cref="CliHost"/>), until none of the given sites' days is left in the
/// changed set. A pass may be skipped while the service's own worker holds the rollup lock.
/// </summary>
internal static class Rollups
{
    public static async Task<RollupRun> RollUpAsync(string redisConnection, string clickHouseConnection, IConnectionMultiplexer redis, IEnumerable<string> sites, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var siteList = sites.ToList();
        await using var host = CliHost.Create(redisConnection, clickHouseConnection);
        var runner = host.Get<RollupRunner>();
        var started = Stopwatch.GetTimestamp();
        var passes = 0;
        var pairs = 0;
        long rows = 0;
        var lastPass = TimeSpan.Zero;
        while (true)
        {
            var result = await runner.RunAsync(cancellationToken);
            if (result is not null)
            {
                passes++;
                pairs += result.Pairs;
                rows += result.Rows;
                lastPass = result.Elapsed;
                if (!await AnyPendingAsync(redis, siteList))
                {
                    return new RollupRun(passes, pairs, rows, Stopwatch.GetElapsedTime(started), lastPass);
                }
            }

            if (Stopwatch.GetElapsedTime(started) > timeout)
            {
                throw new TimeoutException($"The run's days were still waiting for a rollup after {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Whether any of the sites' days is still marked changed (or taken by a rollup not yet done).</summary>
    public static async Task<bool> AnyPendingAsync(IConnectionMultiplexer redis, IEnumerable<string> sites)
    {
        var db = redis.GetDatabase();
        var batch = db.CreateBatch();
        var lengths = sites.SelectMany(s => new[] { batch.SetLengthAsync(RedisKeys.Dirty(s)), batch.SetLengthAsync(RedisKeys.DirtyInFlight(s)) }).ToList();
        batch.Execute();
        return (await Task.WhenAll(lengths)).Any(n => n > 0);
    }
}
