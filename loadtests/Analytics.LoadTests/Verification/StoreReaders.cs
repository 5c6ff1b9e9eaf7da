using System.Globalization;
using System.Text;
using Analytics.Counting;
using Analytics.Sites;
using ClickHouse.Driver;
using StackExchange.Redis;

namespace Analytics.LoadTests.Verification;

/// <summary>Reads what Redis and ClickHouse hold for a set of sites, with the service's own keys and tables.</summary>
internal static class StoreReaders
{
    /// <summary>
    /// Every day key of each site (found by SCAN, so a view counted on an unexpected day is seen
    /// too), its views, pages and referrers, and the site's total.
    /// </summary>
    public static async Task<StoreSnapshot> ReadRedisAsync(IConnectionMultiplexer redis, IEnumerable<string> sites, CancellationToken cancellationToken = default)
    {
        var snapshot = new StoreSnapshot("Redis");
        var db = redis.GetDatabase();
        var server = redis.GetServers().First(s => !s.IsReplica);
        foreach (var site in sites)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prefix = $"a:{{{site}}}:";
            var days = new List<(char Kind, DateOnly Day, RedisKey Key)>();
            await foreach (var key in server.KeysAsync(db.Database, prefix + "*", pageSize: 1000))
            {
                var rest = key.ToString()[prefix.Length..];
                if (rest.Length == 12 && rest[1] == ':' && rest[0] is 'd' or 'p' or 'r'
                    && DateOnly.TryParseExact(rest[2..], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
                {
                    days.Add((rest[0], day, key));
                }
            }

            var batch = db.CreateBatch();
            var total = batch.StringGetAsync(RedisKeys.Total(site));
            var views = days.Where(d => d.Kind == 'd').Select(d => (d.Day, Value: batch.HashGetAsync(d.Key, "views"))).ToList();
            var hashes = days.Where(d => d.Kind != 'd').Select(d => (d.Kind, d.Day, Entries: batch.HashGetAllAsync(d.Key))).ToList();
            batch.Execute();
            await Task.WhenAll([total, .. views.Select(v => v.Value), .. hashes.Select(h => h.Entries)]);

            snapshot.Totals[site] = (long)total.Result;
            foreach (var (day, value) in views)
            {
                snapshot.Days[(site, day)] = (long)value.Result;
            }

            foreach (var (kind, day, entries) in hashes)
            {
                foreach (var entry in entries.Result)
                {
                    if (kind == 'p')
                    {
                        snapshot.Pages[(site, day, entry.Name!)] = (long)entry.Value;
                    }
                    else
                    {
                        snapshot.Referrers[(site, day, entry.Name!)] = (long)entry.Value;
                    }
                }
            }
        }

        return snapshot;
    }

    /// <summary>The rolled-up rows of the sites, read with FINAL as the README tells users to.</summary>
    public static async Task<StoreSnapshot> ReadClickHouseAsync(ClickHouseClient clickHouse, IEnumerable<string> sites, CancellationToken cancellationToken = default)
    {
        var snapshot = new StoreSnapshot("ClickHouse");
        var list = sites.ToList();
        foreach (var site in list)
        {
            snapshot.Totals[site] = 0;
        }

        if (list.Count == 0)
        {
            return snapshot;
        }

        var inList = InList(list);
        await foreach (var row in RowsAsync(clickHouse, $"SELECT site, toString(date), '', views FROM analytics.daily_site FINAL WHERE site IN ({inList})", cancellationToken))
        {
            snapshot.Days[(row.Site, row.Day)] = row.Views;
            snapshot.Totals[row.Site] += row.Views;
        }

        await foreach (var row in RowsAsync(clickHouse, $"SELECT site, toString(date), path, views FROM analytics.daily_page FINAL WHERE site IN ({inList})", cancellationToken))
        {
            snapshot.Pages[(row.Site, row.Day, row.Key)] = row.Views;
        }

        await foreach (var row in RowsAsync(clickHouse, $"SELECT site, toString(date), referrer, views FROM analytics.daily_referrer FINAL WHERE site IN ({inList})", cancellationToken))
        {
            snapshot.Referrers[(row.Site, row.Day, row.Key)] = row.Views;
        }

        return snapshot;
    }

    /// <summary>A SQL list of site ids; ids are checked against the service's own rule, so they need no escaping.</summary>
    public static string InList(IEnumerable<string> sites)
    {
        var text = new StringBuilder();
        foreach (var site in sites)
        {
            if (!SiteRules.Id().IsMatch(site))
            {
                throw new ArgumentException($"'{site}' is not a site id.", nameof(sites));
            }

            text.Append(text.Length == 0 ? "'" : ", '").Append(site).Append('\'');
        }

        return text.ToString();
    }

    private static async IAsyncEnumerable<(string Site, DateOnly Day, string Key, long Views)> RowsAsync(ClickHouseClient clickHouse, string sql, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = await clickHouse.ExecuteReaderAsync(sql, cancellationToken: cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return (
                reader.GetString(0),
                DateOnly.ParseExact(reader.GetString(1), "yyyy-MM-dd", CultureInfo.InvariantCulture),
                reader.GetString(2),
                Convert.ToInt64(reader.GetValue(3), CultureInfo.InvariantCulture));
        }
    }
}
