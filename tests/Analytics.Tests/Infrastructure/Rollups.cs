using Analytics.Counting;
using Analytics.Rollup;
using StackExchange.Redis;

namespace Analytics.Tests.Infrastructure;

internal static class Rollups
{
    /// <summary>
    /// Runs rollups until this site has nothing left to roll up. Other tests share the Redis and
    /// may hold the lock for a moment (their rollup then takes this site's pairs too, which is fine).
    /// </summary>
    public static async Task RollupAsync(this TestApp app, string site, IConnectionMultiplexer redis)
    {
        var runner = app.Get<RollupRunner>();
        var db = redis.GetDatabase();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await runner.RunAsync();
            var pending = await db.SetLengthAsync(RedisKeys.Dirty(site)) + await db.SetLengthAsync(RedisKeys.DirtyInFlight(site)) > 0;
            if (!pending)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{site} was not rolled up in time.");
            await Task.Delay(50);
        }
    }
}
