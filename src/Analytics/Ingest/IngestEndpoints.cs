using System.Text.Json;
using Analytics.Counting;
using Analytics.Infrastructure;
using Analytics.Sites;
using Analytics.Telemetry;

namespace Analytics.Ingest;

/// <summary>
/// The public JSON ingest endpoints: our beacon, Plausible's and Umami's tracker payloads and the
/// batch (the pixel is <see cref="PixelMiddleware"/>). Each answers only after the hit is in Redis
/// (see <see cref="CounterWriter"/>).
/// </summary>
internal static class IngestEndpoints
{
    public const string CorsPolicy = "ingest";
    public const string IgnoredHeader = "X-Analytics-Ignored";

    /// <summary>A transparent 1×1 GIF, 43 bytes.</summary>
    private static readonly byte[] Gif =
    [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
    ];

    public static IEndpointRouteBuilder MapIngest(this IEndpointRouteBuilder app)
    {
        // The pixel is answered by PixelMiddleware, ahead of routing.
        var ingest = app.MapGroup("").RequireCors(CorsPolicy).AddEndpointFilter<ClientRateLimitFilter>();
        ingest.MapPost("/api/event", EventAsync).AddEndpointFilter(new HitTelemetryFilter("event"));
        ingest.MapPost("/api/send", UmamiAsync).AddEndpointFilter(new HitTelemetryFilter("send"));
        ingest.MapPost("/api/events", BatchEndpoint.HandleAsync);
        return app;
    }

    /// <summary>Our beacon <c>{"site","url","referrer"}</c>, or Plausible's payload (<c>n</c>, <c>u</c>, <c>d</c>, <c>r</c>).</summary>
    private static async Task<IResult> EventAsync(HttpContext context, PageViews views)
    {
        var (json, problem) = await ReadJsonAsync(context, views.Options.MaxBodyBytes);
        if (problem is not null)
        {
            return problem;
        }

        using (json)
        {
            var root = json!.RootElement;
            if (Ignored(context))
            {
                return TypedResults.Accepted((string?)null);
            }

            // Plausible's tracker names the event and the domain; anything else is our beacon.
            if (!root.TryGetProperty("site", out _) && HasAny(root, "n", "name", "d", "domain"))
            {
                return await PlausibleAsync(context, views, root);
            }

            if (NotText(root, "site", "url", "referrer", "n", "name") is { } wrong)
            {
                return Problems.Invalid(wrong, $"{wrong} must be a string.");
            }

            // Named as another event than a page view (Plausible's names: engagement, custom ones):
            // checked like a view, taken, and not counted.
            var name = Text(root, "n") ?? Text(root, "name");
            var view = string.IsNullOrEmpty(name) || string.Equals(name, "pageview", StringComparison.Ordinal);
            var (refused, _) = await CountAsync(context, views, Text(root, "site"), "site", Text(root, "url"), "url", Text(root, "referrer"), count: view);
            if (refused is not null)
            {
                return refused;
            }

            if (!view)
            {
                context.Response.Headers[IgnoredHeader] = "not-a-pageview";
            }

            return TypedResults.Accepted((string?)null);
        }
    }

    private static async Task<IResult> PlausibleAsync(HttpContext context, PageViews views, JsonElement root)
    {
        if (NotText(root, "n", "name", "u", "url", "d", "domain", "r", "referrer") is { } wrong)
        {
            return Problems.Invalid(wrong, $"{wrong} must be a string.");
        }

        var name = Text(root, "n") ?? Text(root, "name");
        var url = Text(root, "u") ?? Text(root, "url");
        var domains = Text(root, "d") ?? Text(root, "domain");
        var referrer = Text(root, "r") ?? Text(root, "referrer");
        if (string.IsNullOrWhiteSpace(name))
        {
            return Problems.Invalid("n", "n (the event name) is required; send \"pageview\" for a page view.");
        }

        if (string.IsNullOrWhiteSpace(domains))
        {
            return Problems.Invalid("d", "d (the site's domain) is required.");
        }

        var listed = domains.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (listed.Length == 0)
        {
            return Problems.Invalid("d", "d (the site's domain) is required.");
        }

        // A tracker may report to several sites at once (d="a.com,b.com", Plausible's roll-ups): the
        // view counts for each of them whose domains include the page's host (a roll-up site lists
        // the domains of the sites it sums); a site named twice, or by two of its domains, counts
        // it once; a domain no site tracks is passed over, as Plausible does. When no named site
        // takes the page, the first one's refusal is the answer.
        var hits = new List<Counting.Hit>();
        var counted = new HashSet<string>(StringComparer.Ordinal);
        IngestError? refused = null;
        foreach (var domain in listed)
        {
            if (await views.Sites.FindByDomainAsync(domain) is not { } site || !counted.Add(site.Id))
            {
                continue;
            }

            var (hit, error) = await views.PrepareAsync(site, url, "u", referrer, ClientAddress(context), UserAgent(context));
            if (error is null)
            {
                hits.Add(hit);
            }
            else
            {
                refused ??= error;
            }
        }

        if (hits.Count == 0)
        {
            return refused is { } e ? ToProblem(e)
                : Problems.NotFound(listed.Length == 1 ? $"No site tracks the domain '{listed[0]}'." : $"No site tracks any of the domains '{domains}'.");
        }

        // Only page views are views; engagement and custom events are taken and not counted.
        // Plausible's own name, as its tracker sends it ("Pageview" would be a custom event there).
        if (string.Equals(name, "pageview", StringComparison.Ordinal))
        {
            var (failed, _) = await CommitAsync(views, hits);
            if (failed is not null)
            {
                return failed;
            }
        }
        else
        {
            context.Response.Headers[IgnoredHeader] = "not-a-pageview";
        }

        return TypedResults.Text("ok", "text/plain", statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>Umami's <c>{"type":"event","payload":{"website","hostname","url","referrer",…}}</c>.</summary>
    private static async Task<IResult> UmamiAsync(HttpContext context, PageViews views)
    {
        var (json, problem) = await ReadJsonAsync(context, views.Options.MaxBodyBytes);
        if (problem is not null)
        {
            return problem;
        }

        using (json)
        {
            var root = json!.RootElement;
            var type = Text(root, "type");
            if (type is not ("event" or "identify" or "performance"))
            {
                return Problems.Invalid("type", "type must be \"event\", \"identify\" or \"performance\".");
            }

            if (!root.TryGetProperty("payload", out var payload) || payload.ValueKind != JsonValueKind.Object)
            {
                return Problems.Invalid("payload", "payload must be an object.");
            }

            if (NotText(payload, "website", "hostname", "url", "referrer", "name") is { } wrong)
            {
                return Problems.Invalid($"payload.{wrong}", $"payload.{wrong} must be a string.");
            }

            if (Ignored(context))
            {
                return UmamiAnswer();
            }

            var (site, siteError) = await views.FindSiteAsync(Text(payload, "website"), "website");
            if (siteError is { } se)
            {
                return ToProblem(se);
            }

            // Only page views are views: identify, performance and named events (which Umami's
            // server-side client sends without a page) are taken and not counted.
            if (type != "event" || Text(payload, "name") is { Length: > 0 })
            {
                context.Response.Headers[IgnoredHeader] = "not-a-pageview";
                return UmamiAnswer();
            }

            var hostname = Text(payload, "hostname");
            var path = Text(payload, "url");
            if (string.IsNullOrWhiteSpace(path))
            {
                return Problems.Invalid("url", "payload.url (the page's path) is required.");
            }

            // Umami sends the path; older trackers sent the whole URL.
            var url = !path.StartsWith('/') ? path
                : string.IsNullOrWhiteSpace(hostname) ? null
                : $"https://{hostname}{path}";
            if (url is null)
            {
                return Problems.Invalid("hostname", "payload.hostname is required when payload.url is a path.");
            }

            var (hit, error) = await views.PrepareAsync(site!, url, "url", Text(payload, "referrer"), ClientAddress(context), UserAgent(context));
            if (error is { } e)
            {
                return ToProblem(e);
            }

            return await CommitAsync(views, hit) ?? UmamiAnswer();
        }
    }

    // Umami's tracker reads a JSON body back (it looks for a cache token); an empty object is enough.
    private static IResult UmamiAnswer() => TypedResults.Json(new { }, statusCode: StatusCodes.Status202Accepted);

    /// <summary>
    /// Counts one page view (checks it only, without <paramref name="count"/>); the problem to answer
    /// (null when fine) and the outcome for telemetry.
    /// </summary>
    internal static async Task<(IResult? Problem, HitOutcome Outcome)> CountAsync(HttpContext context, PageViews views, string? siteId, string siteField, string? url, string urlField, string? referrer, bool count = true)
    {
        var (site, siteError) = await views.FindSiteAsync(siteId, siteField);
        if (siteError is { } se)
        {
            return (ToProblem(se), se.Status == StatusCodes.Status404NotFound ? HitOutcome.UnknownSite : HitOutcome.Invalid);
        }

        var (hit, error) = await views.PrepareAsync(site!, url, urlField, referrer, ClientAddress(context), UserAgent(context));
        if (error is { } e)
        {
            return (ToProblem(e), HitOutcome.Invalid);
        }

        if (!count)
        {
            return (null, HitOutcome.NotAPageView);
        }

        var failed = await CommitAsync(views, hit);
        return (failed, failed is null ? HitOutcome.Counted : HitOutcome.Unavailable);
    }

    internal static async Task<IResult?> CommitAsync(PageViews views, Counting.Hit hit)
    {
        try
        {
            await views.CountAsync(hit);
            return null;
        }
        catch (CountingUnavailableException e)
        {
            return Problems.Unavailable(e.Message);
        }
    }

    /// <summary>Counts a batch's hits: the problem to answer (null when counted) and whether Redis has them already (false: held while it is away).</summary>
    internal static async Task<(IResult? Problem, bool InRedis)> CommitAsync(PageViews views, IReadOnlyList<Counting.Hit> hits, (StackExchange.Redis.RedisKey Key, StackExchange.Redis.RedisValue Json)? answer = null)
    {
        try
        {
            return (null, await views.CountAsync(hits, answer));
        }
        catch (CountingUnavailableException e)
        {
            return (Problems.Unavailable(e.Message), false);
        }
    }

    /// <summary>The pixel's answer, written straight to the response (no range or ETag handling to pay for).</summary>
    internal sealed class GifResult : IResult
    {
        public static readonly GifResult Instance = new();

        public static int Length => Gif.Length;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.ContentType = "image/gif";
            response.ContentLength = Gif.Length;
            return response.Body.WriteAsync(Gif).AsTask();
        }
    }

    /// <summary>Bots are answered as if counted (so they do not retry) and marked with a header.</summary>
    private static bool Ignored(HttpContext context)
    {
        if (!BotFilter.IsBot(UserAgent(context)))
        {
            return false;
        }

        context.Response.Headers[IgnoredHeader] = "bot";
        return true;
    }

    internal static IResult ToProblem(IngestError error) =>
        error.Status == StatusCodes.Status404NotFound ? Problems.NotFound(error.Message) : Problems.Invalid(error.Field, error.Message);

    internal static string? ClientAddress(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    internal static string UserAgent(HttpContext context) => context.Request.Headers.UserAgent.ToString();

    /// <summary>The first of <paramref name="properties"/> that is present with a value other than a string or null.</summary>
    internal static string? NotText(JsonElement element, params ReadOnlySpan<string> properties)
    {
        foreach (var property in properties)
        {
            if (element.TryGetProperty(property, out var value) && value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                return property;
            }
        }

        return null;
    }

    private static bool HasAny(JsonElement element, params ReadOnlySpan<string> properties)
    {
        foreach (var property in properties)
        {
            if (element.TryGetProperty(property, out _))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The first string in <paramref name="element"/> (a value or a property name) that cannot be
    /// read as text, as a path like <c>payload.url</c>; null when every one can. The JSON parser
    /// accepts an escaped unpaired UTF-16 surrogate (<c>"\ud800"</c>); reading it would fail.
    /// </summary>
    internal static string? FirstInvalidString(JsonElement element, string path = "")
    {
        switch (element.ValueKind)
        {
            // The body is valid UTF-8 by now, so only an escape can make a string unreadable.
            case JsonValueKind.String when !System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element).Contains((byte)'\\'):
                return null;

            case JsonValueKind.String:
                try
                {
                    _ = element.GetString();
                    return null;
                }
                catch (InvalidOperationException)
                {
                    return path.Length == 0 ? "body" : path;
                }

            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return path.Length == 0 ? "body" : path;
                    }

                    if (FirstInvalidString(property.Value, path.Length == 0 ? name : $"{path}.{name}") is { } invalid)
                    {
                        return invalid;
                    }
                }

                return null;

            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FirstInvalidString(item, $"{(path.Length == 0 ? "body" : path)}[{index++}]") is { } invalid)
                    {
                        return invalid;
                    }
                }

                return null;

            default:
                return null;
        }
    }

    internal static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    internal static async Task<(JsonDocument? Json, IResult? Problem)> ReadJsonAsync(HttpContext context, int limit)
    {
        var (body, problem) = await RequestBody.ReadAsync(context.Request, limit, context.RequestAborted);
        if (problem is not null)
        {
            return (null, problem);
        }

        try
        {
            var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
            {
                json.Dispose();
                return (null, Problems.Invalid("body", "The body must be a JSON object."));
            }

            if (FirstInvalidString(json.RootElement) is { } invalid)
            {
                json.Dispose();
                return (null, Problems.Invalid(invalid, $"{invalid} is not valid text (it holds an unpaired UTF-16 surrogate)."));
            }

            return (json, null);
        }
        catch (JsonException e)
        {
            return (null, Problems.Invalid("body", $"The body is not valid JSON: {e.Message}"));
        }
    }
}
