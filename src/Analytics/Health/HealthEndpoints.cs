using Analytics.ClickHouse;
using Analytics.Counting;
using StackExchange.Redis;

namespace Analytics.Health;

internal static class HealthEndpoints
{
    internal sealed record Readiness(string Status, string Redis, string ClickHouse, long BufferedHits);

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        // HEAD too: load balancers and uptime checks often ask that way.
        app.MapMethods("/healthz", [HttpMethods.Get, HttpMethods.Head], () => TypedResults.Ok(new { status = "ok" }));
        app.MapMethods("/readyz", [HttpMethods.Get, HttpMethods.Head], ReadyAsync);
        return app;
    }

    /// <summary>Ready while Redis answers (ingest is exact); ClickHouse being away only delays rollups.</summary>
    private static async Task<IResult> ReadyAsync(IConnectionMultiplexer redis, CounterWriter counter, ClickHouseStatus clickHouse)
    {
        var redisUp = await PingAsync(redis);
        var clickHouseUp = await clickHouse.PingAsync();
        var readiness = new Readiness(
            redisUp ? (clickHouseUp ? "ready" : "degraded") : "unavailable",
            redisUp ? "up" : "down",
            clickHouseUp ? "up" : "down",
            counter.BufferedHits);
        return TypedResults.Json(readiness, statusCode: redisUp ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<bool> PingAsync(IConnectionMultiplexer redis)
    {
        try
        {
            await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return false;
        }
    }
}
