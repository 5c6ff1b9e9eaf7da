using Analytics.ClickHouse;
using Analytics.Counting;
using Analytics.Rollup;
using Analytics.Staff;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using StackExchange.Redis;

namespace Analytics.Sites;

/// <summary>
/// Deleting a site deletes what belongs to it: its configuration and ingest key, every grant of it
/// to staff users and API tokens, and its counts in Redis and ClickHouse. A site made again under
/// the same id starts empty, and nobody reads it through what was given for the old one.
/// </summary>
internal sealed partial class SiteRemoval(SiteStore sites, StaffStore staff, RollupRunner rollup, IConnectionMultiplexer redis, ClickHouseClient clickHouse, ILogger<SiteRemoval> logger)
{
    private static readonly string[] Tables = ["daily_site", "daily_page", "daily_referrer"];

    /// <summary>
    /// False when there is no such site. It runs under the rollup lock, so no rollup writes the
    /// site's rows back in between. ClickHouse goes first: when it cannot delete the rows, the
    /// exception leaves everything as it was, to be tried again.
    /// </summary>
    /// <exception cref="SiteRemovalBusyException">A rollup held the lock for longer than it may.</exception>
    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default)
    {
        if (await sites.GetAsync(id) is null)
        {
            return false;
        }

        var removed = false;
        var locked = await rollup.ExclusiveAsync(async () => removed = await RemoveLockedAsync(id, cancellationToken), TimeSpan.FromMinutes(2), cancellationToken);
        return locked ? removed : throw new SiteRemovalBusyException();
    }

    private async Task<bool> RemoveLockedAsync(string id, CancellationToken cancellationToken)
    {
        if (await sites.GetAsync(id) is null)
        {
            return false;
        }

        // ClickHouse first (the rollup lock is held and renewed meanwhile, so no rollup writes the
        // site back): when it cannot delete the rows, nothing else has changed.
        foreach (var table in Tables)
        {
            // Waits for the deletion, so a report right after it no longer shows the rows.
            await clickHouse.ExecuteNonQueryAsync(
                $"ALTER TABLE {Schema.Database}.{table} DELETE WHERE site = {{site:String}} SETTINGS mutations_sync = 1",
                [new ClickHouseDbParameter { ParameterName = "site", Value = id }],
                cancellationToken: cancellationToken);
        }

        // From here on no count for the site is applied, whoever still has hits for it on the way,
        // and no rollup takes it. Kept for as long as a batch might be held while Redis is away; a
        // site made again replaces it.
        await redis.GetDatabase().StringSetAsync(RedisKeys.Generation(id), RedisKeys.Deleted, TimeSpan.FromDays(30));

        // The counts before the configuration: while the site exists, nobody can make it again
        // and have its first counts swept away.
        var keys = await DeleteCountsAsync(id);
        if (!await sites.DeleteAsync(id))
        {
            return false;
        }

        await staff.ForgetSiteAsync(id);
        LogRemoved(id, keys);
        return true;
    }

    /// <summary>Every key of the site (they all carry its <c>{site}</c> hash tag), on every primary.</summary>
    private async Task<long> DeleteCountsAsync(string id)
    {
        var db = redis.GetDatabase();
        long deleted = 0;
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            var batch = new List<RedisKey>();
            await foreach (var key in server.KeysAsync(db.Database, $"a:{{{id}}}:*", pageSize: 1000))
            {
                if (key == RedisKeys.Generation(id))
                {
                    continue;
                }

                batch.Add(key);
                if (batch.Count == 1000)
                {
                    deleted += await db.KeyDeleteAsync([.. batch]);
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                deleted += await db.KeyDeleteAsync([.. batch]);
            }
        }

        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed site {Site}: its grants to staff and tokens and {Keys} Redis keys of counts.")]
    private partial void LogRemoved(string site, long keys);

}

/// <summary>A site could not be removed because a rollup kept the lock; nothing was removed.</summary>
internal sealed class SiteRemovalBusyException() : Exception("A rollup kept the lock too long; nothing was removed. Try again.");
