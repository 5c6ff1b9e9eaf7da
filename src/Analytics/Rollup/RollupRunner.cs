using System.Diagnostics;
using Analytics.ClickHouse;
using Analytics.Counting;
using Analytics.Reports;
using Analytics.Sites;
using Analytics.Telemetry;
using ClickHouse.Driver;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Rollup;

internal sealed record RollupResult(int Pairs, long Rows, TimeSpan Elapsed);

/// <summary>
/// One rollup pass: takes each site's changed days from Redis, reads their absolute
/// counters and writes them to ClickHouse. Only the holder of the Redis lock rolls up; a pair
/// leaves the site's changed set only after ClickHouse acknowledged it. Days taken by a holder
/// that died are put back by the next one. Since the rows are absolute (version = views), running
/// twice, two nodes at once, or a retry after a failed insert can never double-count.
/// </summary>
internal sealed partial class RollupRunner(IConnectionMultiplexer redis, ClickHouseClient clickHouse, SiteStore sites, IOptions<RollupOptions> options, IOptions<ReportsOptions> reports, AnalyticsMetrics metrics, ILogger<RollupRunner> logger)
{
    private const string RecoverScript = """
        local taken = redis.call('SMEMBERS', KEYS[2])
        for i = 1, #taken, 1000 do
          redis.call('SADD', KEYS[1], unpack(taken, i, math.min(i + 999, #taken)))
        end
        redis.call('DEL', KEYS[2])
        return #taken
        """;

    // Nothing of a site being deleted (its generation says so): its counts are on their way out,
    // not into ClickHouse.
    private const string TakeScript = """
        if redis.call('GET', KEYS[3]) == 'deleted' then return {} end
        local taken = redis.call('SPOP', KEYS[1], ARGV[1])
        if #taken > 0 then redis.call('SADD', KEYS[2], unpack(taken)) end
        return taken
        """;

    private const string PutBackScript = """
        redis.call('SADD', KEYS[1], unpack(ARGV))
        redis.call('SREM', KEYS[2], unpack(ARGV))
        return #ARGV
        """;

    private const string RenewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private readonly RollupOptions _options = options.Value;

    /// <summary>Changed pairs left after the last rollup (for the pending gauge).</summary>
    public long PendingPairs { get; private set; }

    /// <summary>
    /// Runs <paramref name="action"/> while holding the rollup lock, so no rollup reads or writes in
    /// between: waits for a running one to finish (at most its lock timeout and a little). False when
    /// the lock could not be had; the action did not run then.
    /// </summary>
    public async Task<bool> ExclusiveAsync(Func<Task> action, TimeSpan holdAtMost, CancellationToken cancellationToken = default)
    {
        var db = redis.GetDatabase();
        var token = Guid.NewGuid().ToString("N");
        var giveUpAt = DateTime.UtcNow + _options.LockTimeout + TimeSpan.FromSeconds(5);
        while (!await db.StringSetAsync(RedisKeys.RollupLock, token, holdAtMost, When.NotExists))
        {
            if (DateTime.UtcNow >= giveUpAt)
            {
                return false;
            }

            await Task.Delay(100, cancellationToken);
        }

        // Held for as long as the action runs (a large site's deletion in ClickHouse may outlast
        // holdAtMost), renewed a few times within each holdAtMost; holdAtMost bounds a crashed holder.
        using var stopRenewing = new CancellationTokenSource();
        var renewing = RenewWhileAsync(db, token, holdAtMost, stopRenewing.Token);
        try
        {
            await action();
            return true;
        }
        finally
        {
            await stopRenewing.CancelAsync();
            await renewing;
            await db.ScriptEvaluateAsync(ReleaseScript, [RedisKeys.RollupLock], [token]);
        }
    }

    private static async Task RenewWhileAsync(IDatabase db, string token, TimeSpan holdFor, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(holdFor / 3, cancellationToken);
                try
                {
                    await db.ScriptEvaluateAsync(RenewScript, [RedisKeys.RollupLock], [token, (long)holdFor.TotalMilliseconds]);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    // Redis did not answer this time: the next renewal is due well before the lock runs out.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Rolls up everything changed; null when another node holds the lock.</summary>
    public async Task<RollupResult?> RunAsync(CancellationToken cancellationToken = default)
    {
        var db = redis.GetDatabase();
        var token = Guid.NewGuid().ToString("N");
        var started = Stopwatch.GetTimestamp();
        var outcome = "failed";
        var locked = false;
        Activity? activity = null;
        List<string> siteIds = [];
        try
        {
            // Inside the try: a Redis that fails here fails the rollup, counted as such.
            if (!await db.StringSetAsync(RedisKeys.RollupLock, token, _options.LockTimeout, When.NotExists))
            {
                outcome = "skipped";
                return null;
            }

            locked = true;
            activity = AnalyticsTelemetry.Source.StartActivity("rollup");
            siteIds = [.. (await sites.ListAsync()).Select(s => s.Id)];
            long recovered = 0;
            foreach (var site in siteIds)
            {
                recovered += (long)await db.ScriptEvaluateAsync(RecoverScript, DirtySets(site));
            }

            if (recovered > 0)
            {
                LogRecovered(recovered);
            }

            var pairs = 0;
            long rows = 0;
            var remaining = new Queue<string>(siteIds);
            while (remaining.Count > 0 && !cancellationToken.IsCancellationRequested)
            {
                // Take up to PairsPerWrite changed days, from as many sites as it takes.
                var taken = new List<(string Site, RedisValue[] Days)>();
                var count = 0;
                while (count < _options.PairsPerWrite && remaining.TryPeek(out var site))
                {
                    var days = (RedisValue[])(await db.ScriptEvaluateAsync(TakeScript, [.. DirtySets(site), RedisKeys.Generation(site)], [_options.PairsPerWrite - count]))!;
                    if (days.Length < _options.PairsPerWrite - count)
                    {
                        remaining.Dequeue();
                    }

                    if (days.Length > 0)
                    {
                        taken.Add((site, days));
                        count += days.Length;
                    }
                }

                if (count == 0)
                {
                    break;
                }

                try
                {
                    rows += await WriteAsync(db, taken, cancellationToken);
                }
                catch
                {
                    foreach (var (site, days) in taken)
                    {
                        await db.ScriptEvaluateAsync(PutBackScript, DirtySets(site), days);
                    }

                    throw;
                }

                foreach (var (site, days) in taken)
                {
                    if (!string.IsNullOrWhiteSpace(reports.Value.DailyDirectory))
                    {
                        // A finished day's report file, if written already, is now out of date.
                        await Task.WhenAll(days.Select(day => db.HashIncrementAsync(RedisKeys.Refile(site), day)));
                    }

                    await db.SetRemoveAsync(RedisKeys.DirtyInFlight(site), days);
                }

                pairs += count;
                if ((long)await db.ScriptEvaluateAsync(RenewScript, [RedisKeys.RollupLock], [token, (long)_options.LockTimeout.TotalMilliseconds]) == 0)
                {
                    // Held longer than the lock lasts: another node may be rolling up, or a site being
                    // deleted. What is written stays right (absolute values); stop here.
                    throw new InvalidOperationException($"The rollup lock expired while this rollup ran (longer than {_options.LockTimeout}); the rest is left to the next rollup.");
                }
            }

            var result = new RollupResult(pairs, rows, Stopwatch.GetElapsedTime(started));
            if (pairs > 0)
            {
                LogRolledUp(pairs, rows, result.Elapsed.TotalMilliseconds);
            }

            activity?.SetTag("analytics.rollup.pairs", pairs);
            activity?.SetTag("analytics.rollup.rows", rows);
            PendingPairs = await PendingAsync(db, siteIds);
            outcome = "ok";
            return result;
        }
        finally
        {
            metrics.RollupRuns.Add(1, new KeyValuePair<string, object?>("result", outcome));
            if (outcome != "skipped")
            {
                metrics.RollupDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }

            if (outcome == "failed")
            {
                activity?.SetStatus(ActivityStatusCode.Error);
                // What waits now (a failed rollup puts its pairs back), if Redis can still say.
                try
                {
                    PendingPairs = await PendingAsync(db, siteIds);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                }
            }

            activity?.Dispose();
            if (locked)
            {
                await db.ScriptEvaluateAsync(ReleaseScript, [RedisKeys.RollupLock], [token]);
            }
            else if (outcome == "failed")
            {
                // The lock's SET timed out here yet may still have reached Redis: let go of it
                // (only ours, by its token) rather than leave it to block rollups until it expires.
                try
                {
                    await db.ScriptEvaluateAsync(ReleaseScript, [RedisKeys.RollupLock], [token]);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                }
            }
        }
    }

    /// <summary>Changed (site, day) pairs of these sites waiting for a rollup.</summary>
    private static async Task<long> PendingAsync(IDatabase db, IEnumerable<string> siteIds)
    {
        long pending = 0;
        foreach (var site in siteIds)
        {
            pending += await db.SetLengthAsync(RedisKeys.Dirty(site));
        }

        return pending;
    }

    private static RedisKey[] DirtySets(string site) => [RedisKeys.Dirty(site), RedisKeys.DirtyInFlight(site)];

    private async Task<long> WriteAsync(IDatabase db, List<(string Site, RedisValue[] Days)> taken, CancellationToken cancellationToken)
    {
        var days = new List<(string Site, DateOnly Day)>();
        foreach (var (site, dates) in taken)
        {
            foreach (var date in dates)
            {
                if (RedisKeys.TryParseDate(date.ToString(), out var day))
                {
                    days.Add((site, day));
                }
            }
        }

        // A day whose keys are gone (expired) is never written: zeros must not replace ClickHouse's rows.
        var counters = (await DayCounters.ReadAsync(db, days)).Where(c => c.Exists).ToList();
        var sites = counters.Select(c => new object[] { c.Site, c.Day, (ulong)c.Views, (ulong)c.Visitors, (ulong)c.Views });
        var pages = counters.SelectMany(c => c.Pages.Select(p => new object[] { c.Site, c.Day, p.Key, (ulong)p.Value, (ulong)p.Value }));
        var referrers = counters.SelectMany(c => c.Referrers.Select(r => new object[] { c.Site, c.Day, r.Key, (ulong)r.Value, (ulong)r.Value }));

        long rows = 0;
        rows += await clickHouse.InsertBinaryAsync($"{Schema.Database}.daily_site", ["site", "date", "views", "visitors", "version"], sites, cancellationToken: cancellationToken);
        rows += await clickHouse.InsertBinaryAsync($"{Schema.Database}.daily_page", ["site", "date", "path", "views", "version"], pages, cancellationToken: cancellationToken);
        rows += await clickHouse.InsertBinaryAsync($"{Schema.Database}.daily_referrer", ["site", "date", "referrer", "views", "version"], referrers, cancellationToken: cancellationToken);
        metrics.RollupRows.Add(rows);

        // Rolled up: now the day's keys may expire, a retention after the day (renewed by every later rollup of it).
        var batch = db.CreateBatch();
        var expiries = new List<Task>();
        foreach (var (site, day) in days)
        {
            var expires = day.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc) + _options.Retention;
            foreach (var key in new[] { RedisKeys.Day(site, day), RedisKeys.Pages(site, day), RedisKeys.Referrers(site, day), RedisKeys.Visitors(site, day) })
            {
                expiries.Add(batch.KeyExpireAsync(key, expires));
            }
        }

        batch.Execute();
        await Task.WhenAll(expiries);
        return rows;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rolled up {Pairs} site-days ({Rows} rows) to ClickHouse in {Milliseconds:0} ms.")]
    private partial void LogRolledUp(int pairs, long rows, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Put back {Pairs} site-days taken by a rollup that did not finish.")]
    private partial void LogRecovered(long pairs);
}
