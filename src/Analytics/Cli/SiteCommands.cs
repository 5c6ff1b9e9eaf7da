using System.CommandLine;
using Analytics.Sites;

namespace Analytics.Cli;

/// <summary><c>analytics sites add|list|remove</c>, straight against Redis.</summary>
internal static class SiteCommands
{
    public static Command Create()
    {
        var sites = new Command("sites", "Add, list and remove tracked sites.");
        sites.Subcommands.Add(Add());
        sites.Subcommands.Add(List());
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

            Console.WriteLine($"Added site {site.Id} ({string.Join(", ", site.Domains)}, {site.TimeZone}{(site.PublicCounter ? ", public counter" : "")}).");
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

    private static Command Remove()
    {
        var id = new Argument<string>("id") { Description = "Site id" };
        var command = new Command("remove", "Remove a site (its counts stay until they expire).") { id };
        command.SetAction(async (parse, _) =>
        {
            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            if (!await host.Get<SiteStore>().DeleteAsync(parse.GetValue(id)!))
            {
                return Fail($"There is no site '{parse.GetValue(id)}'.");
            }

            Console.WriteLine($"Removed site {parse.GetValue(id)}.");
            return 0;
        });
        return command;
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }
}
