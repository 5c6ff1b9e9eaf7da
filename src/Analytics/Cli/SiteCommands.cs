using System.CommandLine;
using Analytics.Infrastructure;
using Analytics.Sites;

namespace Analytics.Cli;

/// <summary><c>analytics sites add|list|update|rotate-key|remove</c>, straight against Redis (as the admin API's sites endpoints).</summary>
internal static class SiteCommands
{
    public static Command Create()
    {
        var sites = new Command("sites", "Add, list, change and remove tracked sites.");
        sites.Subcommands.Add(Add());
        sites.Subcommands.Add(List());
        sites.Subcommands.Add(Update());
        sites.Subcommands.Add(RotateKey());
        sites.Subcommands.Add(Remove());
        return sites;
    }

    private static Command Add()
    {
        var id = new Argument<string>("id") { Description = "Site id: 1–64 of a-z, 0-9 and '-'" };
        var domains = new Option<string[]>("--domain") { Description = "A domain of the site (repeat for more)", Required = true, AllowMultipleArgumentsPerToken = true };
        var timeZone = new Option<string>("--time-zone") { Description = "IANA time zone the site's days are counted in", DefaultValueFactory = _ => "UTC" };
        var publicCounter = new Option<bool>("--public-counter") { Description = "Let anyone read the counts (for the embeddable counter)" };
        var queryParameters = new Option<string[]>("--query-parameter") { Description = "A query parameter that is part of a page's identity (repeat for more)" };
        var command = new Command("add", "Add a site and print its ingest key (shown only once).") { id, domains, timeZone, publicCounter, queryParameters };
        command.SetAction(async (parse, _) =>
        {
            var siteId = parse.GetValue(id)!;
            if (!SiteRules.Id().IsMatch(siteId))
            {
                return Fail("id must be 1–64 of a-z, 0-9 and '-'.");
            }

            var request = new SiteRequest(siteId, parse.GetValue(domains), parse.GetValue(timeZone), parse.GetValue(publicCounter), parse.GetValue(queryParameters) ?? []);
            var (site, field, error) = request.ApplyTo(new Site { Id = siteId, Domains = [], CreatedAt = DateTimeOffset.UtcNow });
            if (error is not null)
            {
                return Fail($"{field}: {error}");
            }

            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            if (await host.Get<SiteStore>().CreateAsync(site) is not { } ingestKey)
            {
                return Fail($"There is already a site '{siteId}'.");
            }

            Console.WriteLine($"Added site {Describe(site)}.");
            Console.WriteLine($"Ingest key (for POST /api/events; shown only now): {ingestKey}");
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the sites.");
        command.SetAction(async (parse, _) =>
        {
            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            var all = await host.Get<SiteStore>().ListAsync();
            Console.WriteLine($"{"ID",-24} {"TIME ZONE",-22} {"PUBLIC",-6} DOMAINS");
            foreach (var site in all)
            {
                Console.WriteLine($"{site.Id,-24} {site.TimeZone,-22} {(site.PublicCounter ? "yes" : "no"),-6} {string.Join(", ", site.Domains)}");
            }

            return 0;
        });
        return command;
    }

    private static Command Update()
    {
        var id = new Argument<string>("id") { Description = "Site id" };
        var domains = new Option<string[]>("--domain") { Description = "The site's domains, replacing the ones it has (repeat for more)", AllowMultipleArgumentsPerToken = true };
        var timeZone = new Option<string>("--time-zone") { Description = "IANA time zone the site's days are counted in (days already counted keep their dates)" };
        var publicCounter = new Option<bool?>("--public-counter") { Description = "true: anyone may read the counts (the embeddable counter); false: staff only" };
        var queryParameters = new Option<string[]>("--query-parameter") { Description = "Query parameters that are part of a page's identity, replacing the ones it has (repeat for more)" };
        var command = new Command("update", "Change a site; what is not given stays as it is (as PATCH /api/sites/{site}).") { id, domains, timeZone, publicCounter, queryParameters };
        command.SetAction((parse, _) => WithSiteAsync(parse, id, async (store, existing) =>
        {
            // A list option that is not given is no change (its value would be an empty list).
            var request = new SiteRequest(null, parse.GetResult(domains) is null ? null : parse.GetValue(domains), parse.GetValue(timeZone), parse.GetValue(publicCounter),
                parse.GetResult(queryParameters) is null ? null : parse.GetValue(queryParameters));
            var (site, field, error) = request.ApplyTo(existing);
            if (error is not null)
            {
                return Fail($"{field}: {error}");
            }

            if (!await store.UpdateAsync(site))
            {
                return Fail($"There is no site '{site.Id}' (it was deleted meanwhile).");
            }

            Console.WriteLine($"Updated site {Describe(site)}.");
            return 0;
        }));
        return command;
    }

    private static Command RotateKey()
    {
        var id = new Argument<string>("id") { Description = "Site id" };
        var command = new Command("rotate-key", "Give a site a new ingest key and print it (shown only once); the old key stops working at once.") { id };
        command.SetAction((parse, _) => WithSiteAsync(parse, id, async (store, existing) =>
        {
            var ingestKey = Secrets.New("ik_");
            if (!await store.RotateIngestKeyAsync(existing, ingestKey))
            {
                return Fail($"There is no site '{existing.Id}' (it was deleted meanwhile).");
            }

            Console.WriteLine($"Ingest key of {existing.Id} (for POST /api/events; shown only now): {ingestKey}");
            return 0;
        }));
        return command;
    }

    private static Command Remove()
    {
        var id = new Argument<string>("id") { Description = "Site id" };
        var command = new Command("remove", "Remove a site with its counts (Redis and ClickHouse) and every user's and token's access to it.") { id };
        command.SetAction(async (parse, _) =>
        {
            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption), parse.GetValue(ReportCommands.ClickHouseOption));
            if (!await host.Get<SiteRemoval>().RemoveAsync(parse.GetValue(id)!))
            {
                return Fail($"There is no site '{parse.GetValue(id)}'.");
            }

            Console.WriteLine($"Removed site {parse.GetValue(id)}.");
            return 0;
        });
        return command;
    }

    /// <summary>Runs <paramref name="action"/> on the site the <paramref name="id"/> argument names, or fails saying there is none.</summary>
    private static async Task<int> WithSiteAsync(ParseResult parse, Argument<string> id, Func<SiteStore, Site, Task<int>> action)
    {
        var siteId = parse.GetValue(id)!;
        await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
        var store = host.Get<SiteStore>();
        return await store.GetAsync(siteId) is { } existing ? await action(store, existing) : Fail($"There is no site '{siteId}'.");
    }

    private static string Describe(Site site) =>
        $"{site.Id} ({string.Join(", ", site.Domains)}, {site.TimeZone}{(site.PublicCounter ? ", public counter" : "")})";

    internal static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }
}
