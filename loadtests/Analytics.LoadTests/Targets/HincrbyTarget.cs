using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;

namespace Analytics.LoadTests.Targets;

/// <summary>
/// The usual alternative design: every request awaits its own Redis <c>HINCRBY</c> (site, day,
/// path) before answering — no batching. A batch awaits one HINCRBY per event (pipelined).
/// Keys are <c>lt:hincrby:{site}:DATE</c>, apart from the service's.
/// </summary>
internal static class HincrbyTarget
{
    public static WebApplication Build(int port, string redisConnection)
    {
        var builder = MinimalHost.CreateBuilder(port);
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redisConnection));
        var app = builder.Build();
        var redis = app.Services.GetRequiredService<IConnectionMultiplexer>();
        app.MapGet("/healthz", () => Results.Ok());
        app.MapGet("/p.gif", async (HttpContext context, string? s, string? u) =>
        {
            await IncrementAsync(redis.GetDatabase(), s, u);
            return MinimalHost.GifResult(context);
        });
        app.MapPost("/api/event", async (HttpRequest request) =>
        {
            using var json = await JsonDocument.ParseAsync(request.Body);
            await IncrementAsync(redis.GetDatabase(), Text(json.RootElement, "site"), Text(json.RootElement, "url"));
            return Results.StatusCode(StatusCodes.Status202Accepted);
        });
        app.MapPost("/api/events", async (HttpRequest request) =>
        {
            using var json = await JsonDocument.ParseAsync(request.Body);
            var db = redis.GetDatabase();
            var events = json.RootElement.EnumerateArray().ToList();
            await Task.WhenAll(events.Select(e => IncrementAsync(db, "batch", Text(e, "url"))));
            return Results.Json(new { accepted = events.Count, rejected = Array.Empty<object>() }, statusCode: StatusCodes.Status202Accepted);
        });
        return app;
    }

    private static Task IncrementAsync(IDatabase db, string? site, string? url)
    {
        var path = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.AbsolutePath : "/";
        var day = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        return db.HashIncrementAsync($"lt:hincrby:{{{site}}}:{day}", path);
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
