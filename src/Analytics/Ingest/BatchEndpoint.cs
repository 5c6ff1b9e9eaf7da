using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Analytics.Counting;
using Analytics.Infrastructure;
using Analytics.Sites;
using Analytics.Telemetry;
using StackExchange.Redis;

namespace Analytics.Ingest;

/// <summary>
/// <c>POST /api/events</c>: a server-side batch (JSON array or NDJSON) authorised by the site's
/// ingest key. Events may carry their own time (<c>ts</c>, for back-fill) and the original
/// visitor's <c>ip</c> and <c>userAgent</c>. With an <c>Idempotency-Key</c>, a retried batch is
/// counted once: the first answer is kept for a day and given again.
/// </summary>
internal static partial class BatchEndpoint
{
    private static readonly TimeSpan PendingFor = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);

    internal sealed record Rejected(int Index, string Error);

    internal sealed record Answer(int Accepted, IReadOnlyList<Rejected> Rejected);

    public static async Task<IResult> HandleAsync(HttpContext context, PageViews views, SiteStore sites, IConnectionMultiplexer redis, AnalyticsMetrics metrics)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || authorization.Length <= 7)
        {
            return Problems.Unauthorized("Send the site's ingest key as Authorization: Bearer {key}.");
        }

        var site = await sites.FindByIngestKeyAsync(authorization[7..].Trim());
        if (site is null)
        {
            return Problems.Unauthorized("The ingest key is not valid.");
        }

        var (body, unreadable) = await RequestBody.ReadAsync(context.Request, views.Options.MaxBatchBytes, context.RequestAborted);
        if (unreadable is not null)
        {
            return unreadable;
        }

        var (events, parseError) = Parse(body);
        if (parseError is not null)
        {
            return Problems.Invalid("body", parseError);
        }

        if (events!.Count > views.Options.MaxBatchEvents)
        {
            return Problems.Invalid("body", $"A batch holds at most {views.Options.MaxBatchEvents} events; this one has {events.Count}.");
        }

        var idempotencyKey = context.Request.Headers["Idempotency-Key"].ToString();
        if (idempotencyKey.Length > 0)
        {
            if (idempotencyKey.Length > 200)
            {
                return Problems.Invalid("Idempotency-Key", "Idempotency-Key is longer than 200 characters.");
            }

            var key = RedisKeys.Idempotency(site.Id, idempotencyKey);
            return await OnceAsync(context, redis.GetDatabase(), key, () => CountAsync(views, metrics, site, events, key));
        }

        var (json, problem, _, _) = await CountAsync(views, metrics, site, events, idempotencyKey: null);
        return problem ?? Results.Text(json, "application/json", statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> OnceAsync(HttpContext context, IDatabase db, RedisKey key, Func<Task<(string Json, IResult? Problem, bool InRedis, bool AnswerWritten)>> count)
    {
        bool first;
        RedisValue earlier = default;
        try
        {
            first = await db.StringSetAsync(key, "", PendingFor, When.NotExists);
            if (!first)
            {
                earlier = await db.StringGetAsync(key);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return Problems.Unavailable("Redis is unreachable, so the Idempotency-Key cannot be checked; retry later.");
        }

        if (!first)
        {
            if (earlier.IsNullOrEmpty)
            {
                context.Response.Headers.RetryAfter = "1";
                return Problems.Conflict("A batch with this Idempotency-Key is still being counted; retry shortly.");
            }

            context.Response.Headers["Idempotent-Replayed"] = "true";
            return Results.Text(earlier.ToString(), "application/json", statusCode: StatusCodes.Status202Accepted);
        }

        string json;
        IResult? problem;
        bool inRedis, answerWritten;
        try
        {
            (json, problem, inRedis, answerWritten) = await count();
        }
        catch
        {
            // Not counted: free the key at once, so a retry is not refused as "still being counted".
            await ForgetAsync(db, key);
            throw;
        }

        if (problem is not null)
        {
            await ForgetAsync(db, key);
            return problem;
        }

        // The answer went into Redis with the counts, in one atomic step (a node that dies after it
        // leaves the answer, not a batch counted again on retry); set here only for a batch with
        // nothing to count. A batch held while Redis is away gets its answer when it is written:
        // until then a retry hears "still being counted", never an answer without the counts.
        if (inRedis && !answerWritten)
        {
            try
            {
                await db.StringSetAsync(key, json, CounterWriter.AnswerKeptFor);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
            }
        }

        return Results.Text(json, "application/json", statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task ForgetAsync(IDatabase db, RedisKey key)
    {
        try
        {
            await db.KeyDeleteAsync(key);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The pending marker expires by itself (PendingFor).
        }
    }

    /// <summary>Counts the batch's valid events; its answer as JSON (kept under <paramref name="idempotencyKey"/> with the counts) and the problem, if counting failed.</summary>
    private static async Task<(string Json, IResult? Problem, bool InRedis, bool AnswerWritten)> CountAsync(PageViews views, AnalyticsMetrics metrics, SiteEntry site, List<JsonElement> events, RedisKey? idempotencyKey)
    {
        var now = views.Time.GetUtcNow();
        var hits = new List<Hit>(events.Count);
        var rejected = new List<Rejected>();
        var bots = 0;
        for (var i = 0; i < events.Count; i++)
        {
            var item = events[i];
            if (item.ValueKind != JsonValueKind.Object)
            {
                rejected.Add(new Rejected(i, "An event must be a JSON object."));
                continue;
            }

            if (IngestEndpoints.FirstInvalidString(item) is { } invalid)
            {
                rejected.Add(new Rejected(i, $"{invalid} is not valid text (it holds an unpaired UTF-16 surrogate)."));
                continue;
            }

            if (IngestEndpoints.NotText(item, "url", "referrer", "ip", "userAgent") is { } wrong)
            {
                rejected.Add(new Rejected(i, $"{wrong} must be a string."));
                continue;
            }

            if (IngestEndpoints.Text(item, "ip") is { } ip && !System.Net.IPAddress.TryParse(ip, out _))
            {
                rejected.Add(new Rejected(i, "ip must be an IPv4 or IPv6 address."));
                continue;
            }

            var userAgent = IngestEndpoints.Text(item, "userAgent");
            if (BotFilter.IsBot(userAgent))
            {
                rejected.Add(new Rejected(i, "Ignored: the userAgent is a known bot."));
                bots++;
                continue;
            }

            var at = now;
            if (item.TryGetProperty("ts", out var ts) && ts.ValueKind != JsonValueKind.Null)
            {
                if (ts.ValueKind != JsonValueKind.String || !TryIsoTime(ts.GetString()!, out at))
                {
                    rejected.Add(new Rejected(i, "ts must be an ISO 8601 date and time."));
                    continue;
                }

                if (at > now + FutureTolerance)
                {
                    rejected.Add(new Rejected(i, "ts is in the future."));
                    continue;
                }

                if (at < now - views.Options.MaxBackfill)
                {
                    rejected.Add(new Rejected(i, $"ts is more than {views.Options.MaxBackfill.TotalDays:0} days back."));
                    continue;
                }
            }

            var (hit, error) = await views.PrepareAsync(site, IngestEndpoints.Text(item, "url"), "url", IngestEndpoints.Text(item, "referrer"), IngestEndpoints.Text(item, "ip"), userAgent, at);
            if (error is { } e)
            {
                rejected.Add(new Rejected(i, e.Message));
                continue;
            }

            hits.Add(hit);
        }

        var json = JsonSerializer.Serialize(new Answer(hits.Count, rejected), JsonDefaults.Options);
        var (problem, inRedis) = await IngestEndpoints.CommitAsync(views, hits, idempotencyKey is { } key ? (key, json) : null);
        metrics.Hit(problem is null ? HitOutcome.Counted : HitOutcome.Unavailable, "batch", hits.Count);
        metrics.Hit(HitOutcome.Bot, "batch", bots);
        metrics.Hit(HitOutcome.Invalid, "batch", rejected.Count - bots);
        // Hits to count carry the answer into the script; with none, nothing wrote it.
        return (json, problem, inRedis, hits.Count > 0);
    }

    /// <summary>
    /// ISO 8601 date and time, <c>2026-11-20T14:05:00Z</c> or with an offset, seconds and fractions
    /// optional; without an offset it is UTC. A date alone is its midnight UTC.
    /// </summary>
    internal static bool TryIsoTime(string text, out DateTimeOffset at)
    {
        at = default;
        return IsoTime().IsMatch(text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at);
    }

    [GeneratedRegex(@"\A\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?\z")]
    private static partial Regex IsoTime();

    /// <summary>A JSON array, or one JSON object per line (NDJSON).</summary>
    private static (List<JsonElement>? Events, string? Error) Parse(ReadOnlyMemory<byte> body)
    {
        var span = body.Span;
        var start = 0;
        while (start < span.Length && span[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }

        try
        {
            if (start < span.Length && span[start] == (byte)'[')
            {
                using var array = JsonDocument.Parse(body);
                return ([.. array.RootElement.EnumerateArray().Select(e => e.Clone())], null);
            }

            var events = new List<JsonElement>();
            var line = 0;
            var rest = body[start..];
            while (!rest.IsEmpty)
            {
                line++;
                var end = rest.Span.IndexOf((byte)'\n');
                var current = end < 0 ? rest : rest[..end];
                rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + 1)..];
                if (current.Span.Trim(" \t\r"u8).IsEmpty)
                {
                    continue;
                }

                try
                {
                    using var item = JsonDocument.Parse(current);
                    events.Add(item.RootElement.Clone());
                }
                catch (JsonException e)
                {
                    return (null, $"Line {line} is not valid JSON: {e.Message}");
                }
            }

            return events.Count == 0
                ? (null, "The body must be a JSON array or NDJSON of events.")
                : (events, null);
        }
        catch (JsonException e)
        {
            return (null, $"The body is not valid JSON: {e.Message}");
        }
    }
}
